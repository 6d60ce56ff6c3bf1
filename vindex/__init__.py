"""vindex: turn a folder of videos into a searchable, self-organising collection.

>>> from vindex import Index, ModelSpec
>>> index = Index("my.vindex")
>>> summary = index.add("channels", model=ModelSpec("vindex-tiny"))   # an AddSummary
>>> print(summary.to_dict())
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# The library's public names: `Index`, what it takes, and every result it returns (each a
# dataclass with `to_dict()`, the shape `--json` prints), by the module that defines each. They are
# imported on first use, so that `import vindex` (which every `vindex` command does first) stays
# cheap: a query that a running server answers needs neither numpy nor LanceDB.
PUBLIC_NAMES = {
    "AddSummary": "vindex.indexing", "CheckResult": "vindex.store.checking", "ClusterInfo": "vindex.clustering",
    "ClusterMembers": "vindex.clustering", "ClusterParams": "vindex.clustering", "ClusterResult": "vindex.clustering",
    "CurationHistory": "vindex.curating", "CurationResult": "vindex.clustering.curation",
    "Duplicate": "vindex.duplicates", "DuplicateGroup": "vindex.duplicates", "DuplicateReport": "vindex.duplicates",
    "Export": "vindex.exporting", "Failure": "vindex.indexing", "Hit": "vindex.hits", "Index": "vindex.index",
    "IndexInfo": "vindex.info", "Member": "vindex.clustering", "ModelSpec": "vindex.embedding",
    "OptimizeSummary": "vindex.index", "OrganizePlan": "vindex.organizing", "OrganizeResult": "vindex.organizing",
    "QueryResult": "vindex.hits", "RetunePreview": "vindex.clustering.retune", "UndoResult": "vindex.organizing",
    "VindexError": "vindex.errors",
}
__all__ = [*sorted(PUBLIC_NAMES), "__version__"]

if TYPE_CHECKING:
    from vindex.clustering import ClusterInfo, ClusterMembers, ClusterParams, ClusterResult, Member
    from vindex.clustering.curation import CurationResult
    from vindex.clustering.retune import RetunePreview
    from vindex.curating import CurationHistory
    from vindex.duplicates import Duplicate, DuplicateGroup, DuplicateReport
    from vindex.embedding import ModelSpec
    from vindex.errors import VindexError
    from vindex.exporting import Export
    from vindex.hits import Hit, QueryResult
    from vindex.index import Index, OptimizeSummary
    from vindex.indexing import AddSummary, Failure
    from vindex.info import IndexInfo
    from vindex.organizing import OrganizePlan, OrganizeResult, UndoResult
    from vindex.store.checking import CheckResult


def __getattr__(name: str) -> Any:
    """A public name, imported from its module when first asked for (PEP 562)."""
    module = PUBLIC_NAMES.get(name)
    if module is None:
        raise AttributeError(f"module 'vindex' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *PUBLIC_NAMES])
