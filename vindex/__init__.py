"""vindex: turn a folder of videos into a searchable, self-organising collection."""

__version__ = "0.1.0"

from vindex.embedding import ModelSpec  # noqa: E402
from vindex.errors import VindexError  # noqa: E402
from vindex.index import Index  # noqa: E402

__all__ = ["Index", "ModelSpec", "VindexError", "__version__"]
