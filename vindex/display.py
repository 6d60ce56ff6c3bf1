"""Names as people should see them: a file name can hold characters that change how the text
around them looks (a right-to-left override shows `evil\u202egnp.mp4` as `evilmp4.png`) or that
a terminal or page acts on (control characters). `visible_name` writes each such character as an
escape, so what is shown is what is there.

Escaped: C0 and C1 controls and DEL (`\\x1b`), format characters (Unicode category Cf: the bidi
marks, embeddings, overrides and isolates U+200E/F, U+202A-U+202E, U+2066-U+2069, U+061C, zero-width
characters, U+FEFF), the line and paragraph separators U+2028/U+2029, and lone surrogates (bytes of
a name that is not UTF-8) as `\\uNNNN` (`\\UNNNNNNNN` above U+FFFF). A backslash is left as it is, so
a name that holds a literal `\\u202e` reads the same as one that holds the character; both are
harmless to show, and paths on Windows stay readable.
"""

from __future__ import annotations

import unicodedata

_HIDDEN_CATEGORIES = frozenset(("Cc", "Cf", "Cs", "Zl", "Zp"))


def _shown(character: str) -> str:
    if unicodedata.category(character) not in _HIDDEN_CATEGORIES:
        return character
    code = ord(character)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def visible_name(text: str) -> str:
    """`text` with every control, format (bidi, zero-width) and separator character written as an
    escape (`\\x1b`, `\\u202e`); other characters, backslash included, are left as they are."""
    if text.isprintable():  # the common case, checked in C: no control, format or separator character
        return text
    return "".join(map(_shown, text))


def without_hidden(text: str, replacement: str = "_") -> str:
    """`text` with each character `visible_name` would escape replaced: for names vindex makes
    from a user's name (an exported clip), which must not carry a bidi override onward."""
    if text.isprintable():
        return text
    return "".join(replacement if unicodedata.category(c) in _HIDDEN_CATEGORIES else c for c in text)


def has_control(text: str) -> bool:
    """Whether `text` holds a control character (C0, DEL, C1: a newline, an escape sequence) or a
    line or paragraph separator: what makes one-name-per-line output ambiguous or acts on a
    terminal. Format characters (bidi marks) only change how a name looks, not where it ends."""
    return not text.isprintable() and any(unicodedata.category(character) in ("Cc", "Zl", "Zp")
                                          for character in text)
