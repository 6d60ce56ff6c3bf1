"""Where things are: local paths or object-store URIs, and paths joined under an index root."""

from __future__ import annotations

from pathlib import Path


def is_remote(uri: str | Path) -> bool:
    """An object-store URI (s3://, gs://, az://, memory://) rather than a local path."""
    return "://" in str(uri)


def join_root(root: str, relative_path: str) -> str:
    """A file's location from the index root and its path relative to that root."""
    return f"{root.rstrip('/')}/{relative_path}" if is_remote(root) else str(Path(root) / relative_path)
