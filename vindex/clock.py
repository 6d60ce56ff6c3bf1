"""How a moment in a video is written wherever a person reads it: the CLI's tables and messages,
the web app's tiles, export's errors."""

from __future__ import annotations


def moment(seconds: float | None) -> str:
    """0:03.2 (minutes, then seconds to a tenth); "-" when there is no moment."""
    if seconds is None:
        return "-"
    minutes, rest = divmod(float(seconds), 60)
    return f"{int(minutes)}:{rest:04.1f}"
