"""The torch-free CLIP tokenizer gives open_clip's token ids, and imports no torch."""

import random
import subprocess
import sys

import numpy as np
import pytest

from vindex.embedding.tokenizer import ClipTokenizer

WRITTEN = [
    "a cat on a sofa", "neon abstract", "city at night", "A RED CAR", "people dancing in the rain",
    "Don't stop, I'll be there; we've met; she's here; they're gone; I'm ok; you'd know",
    "DON'T SHOUT", "", " ", "   leading and trailing   ", "tabs\tand\nnew\r\nlines", "x", "a" * 500,
    "word " * 100, "1234567890", "3.14159 and 2,718", "#hashtag @mention http://example.com/path?q=1&r=2",
    "café naïve résumé façade", "Straße Ærø Øresund Åland", "Привет, мир", "Ελληνικά γράμματα",
    "日本語のテキスト、東京タワー", "中文字符测试", "한국어 문장", "עברית", "العربية لغة", "हिन्दी भाषा",
    "ไทยภาษา", "emoji 🎉🔥👍🏽 party", "👨‍👩‍👧‍👦 family", "flags 🇫🇷🇯🇵", "combining e\u0301 and a\u0308",
    "fullwidth ＡＢＣ１２３", "ligature ﬁ ﬂ", "mojibake cafÃ© and â€œquotesâ€\x9d", "&amp; &lt;b&gt; &quot;x&quot; &#39;",
    "&amp;amp; double escaped", "<start_of_text>", "hello <end_of_text> world", "<START_OF_TEXT> upper",
    "zero\u200bwidth space", "non\u00a0breaking space", "soft\u00adhyphen", "control \x01\x02 chars",
    "em — dash – en dash … ellipsis", "“curly” ‘quotes’ «guillemets»", "math ∑∫√∞ ≠ ≤ ≥", "½ ¼ ² ³ µ",
    "©®™ symbols", "$100 €50 £20 ¥1000", "snake_case and camelCase and kebab-case", "!!!???...,,,;;;",
    "ALLCAPSWORDTHATISVERYLONGANDHASNOSPACESATALLINIT", "x" * 77, "the " * 80,
]
POOL = [
    "the", "a", "video", "of", "sunset", "over", "mountains", "neon", "lights", "Tokyo", "street", "rain",
    "cat", "dog", "playing", "guitar", "on", "stage", "ÉCOLE", "niño", "über", "São", "Paulo", "Zürich",
    "東京", "夜景", "猫", "Москва", "ночь", "🎸", "🌆", "🐱", "...", "!", "?", "'s", "'ll", "n't", "42", "7",
    "&amp;", "—", "“", "”", "\t", "  ", "\n", "café", "crème", "brûlée", "ÅÄÖ", "ß", "İstanbul", "ǅ",
]


def varied_strings(count: int = 200) -> list[str]:
    rng = random.Random(0)
    strings = list(WRITTEN)
    while len(strings) < count:
        words = [rng.choice(POOL) for _ in range(rng.randint(1, 40))]
        strings.append(rng.choice([" ", "", "  "]).join(words))
    return strings[:count]


def test_token_ids_equal_open_clips():
    import open_clip

    texts = varied_strings()
    assert len(texts) == 200 and any(ord(c) > 127 for t in texts for c in t)
    expected = open_clip.get_tokenizer("ViT-B-32")(texts).numpy()
    tokens = ClipTokenizer()(texts)
    assert tokens.dtype == np.int64 and tokens.shape == expected.shape == (200, 77)
    mismatched = [text for text, a, b in zip(texts, tokens, expected) if not np.array_equal(a, b)]
    assert mismatched == []


def test_long_text_is_cut_and_still_ends():
    tokenizer = ClipTokenizer(context_length=8)
    tokens = tokenizer(["one two three four five six seven eight nine"])[0]
    assert tokens[0] == tokenizer.start and tokens[-1] == tokenizer.end and 0 not in tokens


@pytest.mark.parametrize("text", ["a cat", "日本語"])
def test_single_string_is_one_row(text):
    assert ClipTokenizer()(text).shape == (1, 77)


def test_tokenizer_imports_no_torch():
    code = "import sys; from vindex.embedding.tokenizer import clip_tokenizer; clip_tokenizer()(['a cat']); " \
           "print(sorted(m for m in ('torch', 'open_clip') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
