"""How a name from the disk is shown to a person: never as something a terminal acts on."""

from __future__ import annotations

import unicodedata


def visible_name(text: str) -> str:
    """`text` with every character a terminal could act on written out instead: C0 and C1 controls
    and DEL as `\\xNN`, Unicode format characters (category Cf: bidi overrides such as U+202E,
    zero-width joiners) as `\\uNNNN`. A file named `a\\x1b]0;title\\x07.avi` shows as that, and
    cannot recolour the terminal, retitle its window or reverse the text after it."""
    if text.isprintable():
        return text
    shown = []
    for char in text:
        code = ord(char)
        if code < 0x20 or 0x7F <= code <= 0x9F:
            shown.append(f"\\x{code:02x}")
        elif unicodedata.category(char) == "Cf":
            shown.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
        else:
            shown.append(char)
    return "".join(shown)
