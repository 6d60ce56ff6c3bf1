"""CLIP's byte-level BPE tokenizer without torch, giving the same token ids as open_clip's.

open_clip's tokenizer module imports torch (seconds) only to return a tensor; a text search with
an OpenVINO model needs nothing else from torch. The vocabulary is the merges file that open_clip
ships (`bpe_simple_vocab_16e6.txt.gz`): a model folder holds a copy (so does the built-in
`vindex-tiny`), else it is read from open_clip's package folder without importing it. The merges of
a Hugging Face `tokenizer.json` (immich's layout) give the same ids.
"""

from __future__ import annotations

import gzip
import html
import importlib.util
import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from vindex.errors import VindexError

VOCABULARY_FILE = "bpe_simple_vocab_16e6.txt.gz"
START, END = "<start_of_text>", "<end_of_text>"
WORD_END = "</w>"
# CLIP's vocabulary: 256 byte symbols, the same with a word end, 48,894 merges, 2 special tokens
# (49,408 in all); the merges file holds more lines than the model was trained with.
MERGES = 49152 - 256 - 2
# Words as CLIP splits them before BPE: the special tokens, English contractions, runs of
# letters, single digits, runs of other non-space characters.
WORD_PATTERN = START + "|" + END + r"""|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""


SHIPPED_VOCABULARY = Path(__file__).resolve().parent.parent / "models" / "vindex-tiny" / VOCABULARY_FILE


def vocabulary_path() -> Path:
    """open_clip's vocabulary file, else the copy shipped with `vindex-tiny` (the same file)."""
    package = importlib.util.find_spec("open_clip")
    if package is not None and package.submodule_search_locations:
        return Path(package.submodule_search_locations[0]) / VOCABULARY_FILE
    if SHIPPED_VOCABULARY.is_file():
        return SHIPPED_VOCABULARY
    raise VindexError("no CLIP vocabulary found: pip install 'vindex[torch]', or use a model folder")


def read_merges(path: Path) -> list[tuple[str, str]]:
    """The BPE merges, best first, from open_clip's gzipped file or a Hugging Face tokenizer.json."""
    if path.suffix == ".json":
        merges = json.loads(path.read_text(encoding="utf-8"))["model"]["merges"]
        return [tuple(merge.split(" ", 1)) if isinstance(merge, str) else tuple(merge) for merge in merges][:MERGES]
    lines = gzip.open(path, "rt", encoding="utf-8").read().split("\n")
    return [tuple(line.split()) for line in lines[1:MERGES + 1]]


def byte_symbols() -> dict[int, str]:
    """One printable character per byte value: bytes that are printable Latin-1 stand for
    themselves, the others (controls, spaces) move to code points from 256 up. The dict's order
    (printable bytes first) is the order of the first 256 ids in the vocabulary."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    symbols = {value: chr(value) for value in printable}
    moved = [value for value in range(256) if value not in symbols]
    symbols.update((value, chr(256 + number)) for number, value in enumerate(moved))
    return symbols


class ClipTokenizer:
    """Texts → (n, context_length) int64 token ids: start token, BPE ids, end token, zeros."""

    def __init__(self, context_length: int = 77, vocabulary: Path | None = None):
        import regex

        self.context_length = context_length
        merges = read_merges(vocabulary or vocabulary_path())
        by_byte = byte_symbols()
        self.byte_symbols = [by_byte[value] for value in range(256)]
        symbols = [*by_byte.values()] + [symbol + WORD_END for symbol in by_byte.values()]
        symbols += ["".join(pair) for pair in merges] + [START, END]
        self.ids = {symbol: number for number, symbol in enumerate(symbols)}
        self.rank = {pair: number for number, pair in enumerate(merges)}
        self.start, self.end = self.ids[START], self.ids[END]
        self.words = regex.compile(WORD_PATTERN, regex.IGNORECASE)
        self._pieces: dict[str, list[int]] = {START: [self.start], END: [self.end]}

    def __call__(self, texts: str | list[str]) -> np.ndarray:
        texts = [texts] if isinstance(texts, str) else texts
        tokens = np.zeros((len(texts), self.context_length), dtype=np.int64)
        for row, text in enumerate(texts):
            ids = [self.start, *self.encode(text), self.end]
            if len(ids) > self.context_length:
                ids = ids[: self.context_length - 1] + [self.end]  # cut, but always end the text
            tokens[row, : len(ids)] = ids
        return tokens

    def encode(self, text: str) -> list[int]:
        ids: list[int] = []
        for word in self.words.findall(clean(text)):
            ids += self._word_ids("".join(self.byte_symbols[byte] for byte in word.encode("utf-8")))
        return ids

    def _word_ids(self, word: str) -> list[int]:
        if word not in self._pieces:
            self._pieces[word] = [self.ids[piece] for piece in self._merge(word)]
        return self._pieces[word]

    def _merge(self, word: str) -> list[str]:
        """Apply the learned merges, best-ranked first, until no adjacent pair has one."""
        pieces = [*word[:-1], word[-1] + WORD_END]
        while len(pieces) > 1:
            pairs = {(left, right) for left, right in zip(pieces, pieces[1:]) if (left, right) in self.rank}
            if not pairs:
                break
            best = min(pairs, key=self.rank.__getitem__)
            merged: list[str] = []
            position = 0
            while position < len(pieces):
                if position + 1 < len(pieces) and (pieces[position], pieces[position + 1]) == best:
                    merged.append(pieces[position] + pieces[position + 1])
                    position += 2
                else:
                    merged.append(pieces[position])
                    position += 1
            pieces = merged
        return pieces


def clean(text: str) -> str:
    """What CLIP's tokenizer sees: mojibake fixed, HTML entities decoded, spaces collapsed, lower case."""
    import ftfy

    text = html.unescape(html.unescape(ftfy.fix_text(text))).strip()
    return " ".join(text.split()).lower()


@lru_cache(maxsize=4)
def clip_tokenizer(context_length: int = 77, vocabulary: Path | None = None) -> ClipTokenizer:
    """A shared tokenizer per context length and vocabulary: reading the vocabulary takes ~0.1 s."""
    return ClipTokenizer(context_length, vocabulary)
