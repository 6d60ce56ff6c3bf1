"""The shapes of a search answer: a `QueryResult` of `Hit`s, each with its matching `Moment`s.

Plain dataclasses with nothing heavy imported, so that a query answered by a running `vindex serve`
(`vindex.served_query`) rebuilds them from the server's JSON without numpy, Arrow or LanceDB.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

from vindex.results import Result


@dataclass
class Moment(Result):
    """One matching stretch of a video: from `start` to `end` seconds, its best frame at `timestamp`."""

    start: float
    end: float
    timestamp: float
    score: float


@dataclass
class Hit(Result):
    """One video in a search result, with the moment that matched best."""

    rank: int
    score: float
    path: str  # relative to the index root
    channel: str
    timestamp: float | None  # seconds into the video of the best-matching frame (or of the query's own picture)
    frame_index: int | None
    video_id: str
    file: str  # the path on disk (root joined with `path`)
    start: float | None = None  # the matching stretch around `timestamp` (vindex.segments)
    end: float | None = None
    moments: list[Moment] | None = None  # every matching stretch of the video, best first (when asked)
    duration: float | None = None  # seconds: where the segments lie in the whole video
    frame_scores: list[list[float]] | None = None  # [seconds, score] of every stored frame, in time order (with moments)


@dataclass
class QueryResult(Result):
    """The videos that answer a query, best first. Iterating yields the hits."""

    query: str
    by: str
    hits: list[Hit]
    source: str  # "text", "index" (stored vectors of the query video) or "embedded" (decoded now)
    warnings: list[str] = field(default_factory=list)

    def __iter__(self) -> Iterator[Hit]:
        return iter(self.hits)

    def __len__(self) -> int:
        return len(self.hits)

    def __getitem__(self, position: int) -> Hit:
        return self.hits[position]

    @classmethod
    def from_dict(cls, data: dict, **extra) -> QueryResult:
        """The result again from its `to_dict()` (as `vindex serve` sends it); a missing or
        unknown key is a KeyError or TypeError."""
        hits = [Hit(**{**hit, "moments": None if hit.get("moments") is None
                       else [Moment(**span) for span in hit["moments"]]}) for hit in data["hits"]]
        return cls(query=data["query"], by=data["by"], hits=hits, source=data["source"],
                   warnings=list(data["warnings"]), **extra)
