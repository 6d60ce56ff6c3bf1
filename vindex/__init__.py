"""vindex: turn a folder of videos into a searchable, self-organising collection.

>>> from vindex import Index, ModelSpec
>>> index = Index("my.vindex")
>>> summary = index.add("channels", model=ModelSpec("vindex-tiny"))   # an AddSummary
>>> print(summary.to_dict())
"""

__version__ = "0.1.0"

# The library's public names: `Index`, what it takes, and every result it returns (each a
# dataclass with `to_dict()`, the shape `--json` prints).
from vindex.store.checking import CheckResult  # noqa: E402
from vindex.clustering import ClusterInfo, ClusterMembers, ClusterParams, ClusterResult, Member  # noqa: E402
from vindex.clustering.curation import CurationResult  # noqa: E402
from vindex.clustering.retune import RetunePreview  # noqa: E402
from vindex.curating import CurationHistory  # noqa: E402
from vindex.duplicates import Duplicate, DuplicateGroup, DuplicateReport  # noqa: E402
from vindex.embedding import ModelSpec  # noqa: E402
from vindex.errors import VindexError  # noqa: E402
from vindex.exporting import Export  # noqa: E402
from vindex.index import Index, OptimizeSummary  # noqa: E402
from vindex.info import IndexInfo  # noqa: E402
from vindex.indexing import AddSummary, Failure  # noqa: E402
from vindex.organizing import OrganizePlan, OrganizeResult, UndoResult  # noqa: E402
from vindex.search import Hit, QueryResult  # noqa: E402

__all__ = [
    "AddSummary", "CheckResult", "ClusterInfo", "ClusterMembers", "ClusterParams", "ClusterResult", "Duplicate",
    "DuplicateGroup", "DuplicateReport", "Export", "Failure", "Hit", "Index", "IndexInfo", "Member", "ModelSpec", "OptimizeSummary",
    "OrganizePlan", "OrganizeResult", "QueryResult", "UndoResult", "VindexError", "__version__",
    "CurationHistory", "CurationResult", "RetunePreview",
]
