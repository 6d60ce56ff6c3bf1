"""`vindex info`: what an index holds, what made its vectors, and how fresh its clusters are."""

from __future__ import annotations

from dataclasses import dataclass

from vindex.results import Result
from vindex.sampling import FIXED, FramePolicy
from vindex.store import Store


@dataclass
class IndexInfo(Result):
    db: str
    root: str | None
    videos: int
    frames: int
    channels: dict[str, int]
    model: str | None
    weights: str | None
    dim: int | None
    frames_per_video: int | None  # the fixed count of a fixed policy (`--frames N`); null when frames follow the shots
    sampling: str | None  # how frames were chosen: uniform or shots
    schema_version: int | None
    size_bytes: int | None
    backend: str | None = None  # the runtime that made the latest vectors: torch or openvino
    precision: str | None = None  # fp32, bf16, fp16 or int8
    int8_fidelity: dict | None = None  # int8 against full precision on held-back frames: mean/min cosine
    vectors_made_by: list[str] | None = None  # every "backend precision" that made vectors in this index
    frame_policy: str | None = None  # which frames each video gets (vindex.sampling.FramePolicy.describe)
    frame_policy_settings: dict | None = None  # the same as numbers: kind, frames, short_seconds, shot_seconds, caps
    clusters: dict | None = None  # the latest fit and the videos that joined since (clustering.state.freshness)
    curation: dict | None = None  # the user's cluster decisions: in force (not undone) and rows in the audit trail


def index_info(store: Store) -> IndexInfo:
    meta = store.meta
    policy = FramePolicy.from_meta(meta) if meta.has_model else None
    channels: dict[str, int] = {}
    catalog = store.catalog(["channel", "cluster", "cluster_status"]) if store.videos is not None else None
    if catalog is not None:
        for channel in catalog.column("channel").to_pylist():
            channels[channel] = channels.get(channel, 0) + 1
    return IndexInfo(
        db=store.uri, root=meta.root, videos=sum(channels.values()), frames=store.count_frames(),
        channels=dict(sorted(channels.items())), model=meta.model, weights=meta.weights,
        dim=meta.dim, frames_per_video=policy.frames if policy and policy.kind == FIXED else None, sampling=meta.sampling,
        schema_version=meta.schema_version, size_bytes=store.size_on_disk(),
        backend=meta.backend, precision=meta.precision, int8_fidelity=meta.int8_fidelity,
        vectors_made_by=meta.vectors_made_by or None,
        frame_policy=policy.describe() if policy else None,
        frame_policy_settings=policy.to_meta() if policy else None,
        clusters=_cluster_freshness(store, catalog), curation=_curation(store),
    )


def _curation(store: Store) -> dict | None:
    from vindex.clustering.decisions import in_force
    from vindex.store.curation import CurationLog

    rows = CurationLog(store).rows()
    return dict(decisions=len(in_force(rows)), rows=len(rows)) if rows else None


def _cluster_freshness(store: Store, catalog) -> dict | None:
    if catalog is None or not store.meta.clustering:
        return None
    from vindex.clustering.state import freshness

    return freshness(catalog, store.meta.clustering, len(store.cluster_rows()))
