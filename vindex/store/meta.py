"""`IndexMeta`: what an index records about itself, read from its `meta` table once per open.

The `meta` table holds key → JSON value; this is its one reader. A new field is one attribute
here (with its default for indexes written before it existed) and one `Store.set_meta(key=...)`
where it is first known.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import PurePath
from typing import Any

# How an index from before sampling was a choice took its frames.
LEGACY_SAMPLING = "uniform"


@dataclass(frozen=True)
class IndexMeta:
    """The index's metadata. Every field is None (or empty) until the first `add` records it."""

    schema_version: int | None = None
    root: str | None = None  # the indexed folder: stored paths are relative to it
    root_from_index: str | None = None  # the root as a path from the index folder (see `followed_root`)
    model: str | None = None  # the model that made the vectors, its weights tag or checkpoint, and their digest
    pretrained: str | None = None
    checkpoint: str | None = None
    model_folder: str | None = None  # the exported model folder (`--model DIR`) that made the vectors
    weights: str | None = None
    dim: int | None = None  # vector size
    frames_per_video: int | None = None
    frame_policy: dict | None = None  # which frames each video gets (vindex.sampling.FramePolicy.to_meta)
    frame_upgrade_pending: bool = False
    video_vector: str | None = None  # how frame vectors are pooled: "time-weighted" (None: a plain mean)  # an index from a fixed count, not yet told how to upgrade
    sampling: str | None = None  # how frames were chosen: uniform or shots (None before any model)
    backend: str | None = None  # the runtime that made the latest vectors: torch or openvino
    precision: str | None = None  # fp32, bf16, fp16 or int8
    int8_fidelity: dict | None = None  # int8 against full precision on held-back frames: mean/min cosine
    vectors_made_by: list[str] = field(default_factory=list)  # every "backend precision" that made vectors
    clustering: dict | None = None  # the latest `vindex cluster` run: its options, model, counts, saved models
    failed: dict[str, list] = field(default_factory=dict)  # path → [size, mtime_ns, reason] of undecodable files
    ann: dict[str, dict] = field(default_factory=dict)  # table → what its ANN index was trained on
    terms_key: str | None = None  # the cached cluster-naming vocabulary (model and terms digest) and scale
    terms_scale: float | None = None
    stored: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)  # the table as read

    @classmethod
    def parse(cls, stored: dict[str, Any]) -> IndexMeta:
        """The metadata from the `meta` table's key → value pairs (keys this vindex does not know
        are kept in `stored` only); older indexes get their fields' legacy defaults."""
        known = {item.name for item in fields(cls)} - {"stored"}
        values = {key: value for key, value in stored.items() if key in known and value is not None}
        if "model" in stored:
            values.setdefault("sampling", LEGACY_SAMPLING)
        return cls(**values, stored=dict(stored))

    @property
    def is_empty(self) -> bool:
        """Nothing recorded yet: an index being created."""
        return not self.stored

    @property
    def has_model(self) -> bool:
        """Whether a model has made vectors here (the index's model, weights and frames are set)."""
        return self.model is not None


def root_from_index(root: str, uri: str) -> str | None:
    """The root as a path from a local index folder, to record beside the root; None for an index on
    object storage, which moves with no videos."""
    return None if "://" in uri else os.path.relpath(os.path.realpath(root), os.path.realpath(uri))


def followed_root(meta: IndexMeta, uri: str) -> IndexMeta:
    """The metadata with the root that an index moved or copied together with its videos covers now.

    `vindex add ./channels` makes `./.vindex` beside the folder; a user who moves or copies the
    project folder takes both along. The recorded root still names the old place, where the files
    are gone (a move) or are not the ones this index should act on (a copy: `organize --apply` would
    move the original's files). So the root follows the index when the root lay beside or inside
    the index's folder (its path from the index climbs one level at most) and that folder exists at
    the same place from the index now; otherwise the recorded root stands."""
    relative = meta.root_from_index
    if not relative or meta.root is None or "://" in uri:
        return meta
    parts = PurePath(relative).parts
    if PurePath(relative).is_absolute() or ".." in parts[1:]:
        return meta
    here = os.path.realpath(os.path.join(os.path.realpath(uri), relative))
    if here == os.path.realpath(meta.root) or not os.path.isdir(here):
        return meta
    return replace(meta, root=here)
