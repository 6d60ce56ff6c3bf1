"""The shape every public result shares: a dataclass with `to_dict()`, which `--json` prints and
`vindex serve` returns, so the library, the CLI and the web API speak the same shape."""

from __future__ import annotations

import dataclasses
import math
from datetime import datetime
from pathlib import PurePath
from typing import Any, Callable

from vindex.locations import shown_path

# (stage, done, total): the CLI draws it as a progress bar; the library never prints.
ProgressHook = Callable[[str, int, int], None]
# One line about what a long step is doing ("compiling UMAP (once per machine)").
StatusHook = Callable[[str], None]


def plain(value: Any) -> Any:
    """`value` as JSON-ready data: dataclasses, paths, datetimes and numpy scalars/arrays become
    dicts, strings and numbers (NaN becomes None)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        if hasattr(value, "to_dict"):
            return value.to_dict()
        return {field.name: plain(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(key) if not isinstance(key, (str, int)) else key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(item) for item in value]
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "tolist") and hasattr(value, "dtype"):  # numpy array or scalar
        return plain(value.tolist())
    if isinstance(value, str):
        return shown_path(value)  # a file name that is not UTF-8: U+FFFD for each such byte
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def plural(noun: str, number: int) -> str:
    """`noun` as it reads after `number`: "video" for 1, "videos" otherwise."""
    return noun if number == 1 else f"{noun}s"


def count(number: int, noun: str) -> str:
    """"1 video", "2 videos": every count a person reads goes through here."""
    return f"{number} {plural(noun, number)}"


class Result:
    """Mixin for public result dataclasses. Subclasses whose dict differs from their fields
    (derived values, hidden fields) override `to_dict` and call `plain` on what they add."""

    def to_dict(self) -> dict:
        return {field.name: plain(getattr(self, field.name)) for field in dataclasses.fields(self)}
