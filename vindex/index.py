"""`Index`: the library's front door. The CLI is a thin layer over this class."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from vindex import defaults, organizing
from vindex.duplicates import DuplicateReport, find_duplicates
from vindex.embedding import DEFAULT_MODEL, Embedder, ModelShape, ModelSpec, image_size_of, model_shape, open_embedder
from vindex.embedding.backends import provenance
from vindex.embedding.weights import check_weights_available
from vindex.curating import Curating
from vindex.errors import VindexError
from vindex.exporting import Export, export
from vindex.locations import is_remote
from vindex.info import IndexInfo, index_info
from vindex.indexing.upgrade import policy_to_add, upgrade_policy
from vindex.indexing import (AddSummary, ModelLoader, RunSettings, add_folder, check_folder, check_rebuild,
                             ensure_root, make_runner)
from vindex.sampling import FramePolicy, decoder_count
from vindex.results import ProgressHook, Result, StatusHook
from vindex.search import Hit, QueryResult, search, text_probe, video_probe
from vindex.store import Store, resolve_db, writer_lock
from vindex.store.meta import IndexMeta, root_from_index
from vindex.store.filters import all_of, video_filter

if TYPE_CHECKING:
    from vindex.store.checking import CheckResult
    from vindex.clustering import ClusterInfo, ClusterMembers, ClusterParams, ClusterResult

def model_to_add(model: ModelSpec | None, meta: IndexMeta) -> ModelSpec:
    """The model an add embeds with: the one asked for, else the index's, else the default."""
    if model is None:
        model = recorded_spec(meta) if meta.has_model else ModelSpec()
    elif not model.name:  # --pretrained/--checkpoint alone: for the index's model, or the default
        model = ModelSpec(meta.model or DEFAULT_MODEL, model.pretrained, model.checkpoint)
    return model.resolved()


def recorded_spec(meta: IndexMeta) -> ModelSpec:
    """The model an index's metadata names; its model folder, where one made the vectors and is still there."""
    if meta.model_folder and Path(meta.model_folder).is_dir():
        return ModelSpec(folder=meta.model_folder)
    return ModelSpec(meta.model, meta.pretrained, meta.checkpoint)


@dataclass
class OptimizeSummary(Result):
    db: str
    videos: int
    frames: int
    built: list[dict]  # one per vector index (re)built: table, type, rows, partitions, seconds
    vector_indexes: dict[str, dict]  # table → type, indexed and unindexed rows, rows at training
    seconds: float


class Index(Curating):
    """A searchable, clusterable index of a folder of videos, stored in LanceDB.

    >>> index = Index("/tmp/my.vindex")            # or Index() for --db/$VINDEX_DB/.vindex lookup
    >>> index.add("channels", model=ModelSpec("vindex-tiny"))
    """

    def __init__(self, db: str | None = None, device: str | None = None, precision: str = defaults.PRECISION,
                 backend: str = defaults.BACKEND, status: StatusHook | None = None):
        self._db = db
        self.device = device
        self.precision = precision
        self.backend = backend  # auto: OpenVINO on a CPU where installed, torch on a GPU
        self.status = status
        self._calibration: Path | None = None  # the folder being added: int8 calibrates on its frames
        self._store: Store | None = None
        # One embedder per (weights, device, precision, backend): loading a model costs seconds.
        self._embedders: dict[tuple, Embedder] = {}

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store(resolve_db(self._db))
        return self._store

    def refresh(self) -> None:
        """Open the tables and metadata again on next use (another process added or clustered since);
        the loaded models stay."""
        self._store = None

    @property
    def meta(self) -> IndexMeta:
        return self.store.meta

    @contextmanager
    def writing(self, wait: bool = False) -> Iterator[Store]:
        """The store with the index's writer lock held, and its tables as the previous writer left
        them, for the block. Every writing method runs inside one; `wait` queues behind another
        writer instead of failing at once (a writing method called inside the block holds the
        lock it already has)."""
        with self.store.writing(wait) as store:
            yield store

    def model_spec(self) -> ModelSpec:
        """The model that made the index's vectors, as recorded in its metadata."""
        meta = self.meta
        if not meta.has_model:
            raise VindexError(f"the index at {self.store.uri} holds no videos yet: run `vindex add FOLDER` first")
        return recorded_spec(meta)

    def embedder(self, spec: ModelSpec | None = None) -> Embedder:
        """The embedder for `spec` (default: the index's model) on this Index's device, precision and backend."""
        spec = (spec or self.model_spec()).resolved()
        key = (spec, self.device, self.precision, self.backend)
        if key not in self._embedders:
            folder = self._calibration or self.meta.root
            calibration = None
            if folder and Path(folder).is_dir():
                from vindex.indexing.calibration import calibration_frames

                calibration = calibration_frames(folder)
            self._embedders[key] = open_embedder(spec, self.device, self.precision, self.backend, self.status,
                                                 calibration)
        return self._embedders[key]

    def add(
        self,
        folder: str | Path,
        model: ModelSpec | None = None,
        frames: int | FramePolicy | None = None,
        sampling: str | None = None,
        reembed: bool = False,
        batch_size: int = defaults.BATCH_SIZE,
        workers: int | None = None,
        progress: ProgressHook | None = None,
        commit_every: int = defaults.COMMIT_EVERY,
        engine: str = defaults.ENGINE,
        address: str | None = None,
        keyframes_only: bool = False,
        retry_failed: bool = False,
        wait: bool = False,
        fingerprints: bool = True,
        upgrade_frames: bool = False,
    ) -> AddSummary:
        """Index new and changed videos under `folder`, follow renames, drop deleted files.

        `engine="ray"` decodes and embeds on Ray (a local instance, or the cluster at `address`).
        `sampling` is where frames are taken: "uniform" (evenly spaced) or "shots" (the middle of
        the longest shots); by default the index's, else `defaults.SAMPLING`.
        `keyframes_only` takes the keyframe nearest each target time (several times faster to
        decode; the frames' real timestamps are stored). `retry_failed` decodes again the files
        remembered as undecodable (those that failed to be read are tried again on every add anyway).
        `wait` waits for another writer of the index instead of failing at once.
        `fingerprints=False` leaves out the dense fingerprints `dupes` needs (only to measure their cost).
        `frames` forces a fixed count per video (or is a `FramePolicy` of one's own); without it frames follow each video's shots
        (`vindex.sampling.FramePolicy`), or keep the index's policy. `upgrade_frames` moves an index
        to the default policy, re-embedding only the videos whose frames change.
        """
        folder = check_folder(folder)
        self._calibration = folder
        new_index = self._store is None and not is_remote(uri := resolve_db(self._db, folder)) and not Path(uri).exists()
        if new_index:  # before anything is created: no empty index is left behind
            check_weights_available(model_to_add(model, IndexMeta()))
        if reembed and self._store is None:
            self._set_aside_unopenable(uri, wait)
        if self._store is None:
            self._store = Store(uri, create=True)
        with self.writing(wait) as store:
            meta = store.meta
            spec = model_to_add(model, meta)
            policy, sampling, recorded_policy = policy_to_add(meta, spec, frames, sampling, upgrade_frames, reembed)
            notes = []
            if upgrade_frames and recorded_policy is not None and not reembed:
                marked = upgrade_policy(store, recorded_policy, policy)
                notes.append(f"frames now follow the shots: {marked} videos re-embedded, the others kept")
            elif meta.frame_upgrade_pending and not reembed:
                notes.append(f"this index takes {recorded_policy.describe()}; new indexes take frames that follow "
                             "each video's shots: `vindex add FOLDER --upgrade-frames` re-embeds only the videos "
                             "whose frames change, `--reembed` re-embeds all (this is said once)")
                store.set_meta(frame_upgrade_pending=False)
            root, folder = ensure_root(store, folder)
            organizing.refuse_if_interrupted(store)
            settings = RunSettings(decoder_count(policy), batch_size, commit_every, workers, keyframes_only,
                                   self.device, self.precision, sampling, fingerprints)
            runner = make_runner(engine, settings, address)
            if reembed:
                check_rebuild(store, root, folder)
                store.drop_vectors()

            def recorded(model: Embedder | ModelShape) -> Embedder | ModelShape:
                # An empty index learns its model when the model is first needed.
                if store.videos is None or not store.meta.has_model:
                    store.initialise(
                        model.dim, model=spec.name, pretrained=spec.pretrained, checkpoint=spec.checkpoint,
                        weights=spec.weights, frames_per_video=policy.frames, frame_policy=policy.to_meta(),
                        video_vector="time-weighted", sampling=sampling, root=str(root),
                        root_from_index=root_from_index(str(root), store.uri),
                        **({"model_folder": spec.folder} if spec.folder else {}),
                    )
                return model

            loader = ModelLoader(image_size_of(spec), lambda: recorded(self.embedder(spec)),
                                 lambda: recorded(model_shape(spec)))
            try:
                check_weights_available(spec)
                summary = add_folder(store, root, folder, loader, runner, progress, retry_failed)
                summary.notes = notes
            except BaseException:
                if new_index and store.is_empty:  # a failed first add leaves no empty index behind
                    self._store = None
                    shutil.rmtree(uri, ignore_errors=True)
                raise
            made_by = self._embedders.get((spec, self.device, self.precision, self.backend))
            if made_by is not None and summary.embedded:
                facts = provenance(made_by)
                history = set(store.meta.vectors_made_by) | {f"{facts['backend']} {facts['precision']}"}
                store.set_meta(**facts, vectors_made_by=sorted(history))
            if not store.is_empty:
                store.ensure_search_indexes()
            if (store.meta.clustering or {}).get("models"):
                from vindex.clustering.assign import assign_new

                summary.assigned, summary.assigned_noise = assign_new(store, self.status)
            return summary

    def _set_aside_unopenable(self, uri: str, wait: bool) -> None:
        """Before a rebuild: tables that do not open (their versions gone) are moved aside, kept."""
        from vindex.store.checking import set_aside_unopenable

        with writer_lock(uri, wait):
            for line in set_aside_unopenable(uri):
                logging.getLogger("vindex").warning("%s", line)

    def info(self) -> IndexInfo:
        """What the index holds: videos, frames, channels, model, sampling, clusters, location, size."""
        return index_info(self.store)

    def organize_plan(self, dest: str | Path, mode: str = defaults.ORGANIZE_MODE,
                      noise: str = defaults.NOISE_POLICY, keep_channel: bool = False) -> organizing.OrganizePlan:
        """Where `organize_apply` would put each clustered video (mode: move, copy or link). Changes nothing."""
        return organizing.preview(self.store, dest, mode, noise, keep_channel)

    def organize_apply(self, dest: str | Path, mode: str = defaults.ORGANIZE_MODE,
                       noise: str = defaults.NOISE_POLICY, keep_channel: bool = False,
                       progress: ProgressHook | None = None, wait: bool = False) -> organizing.OrganizeResult:
        """Move (copy, link) the videos into one folder per cluster under `dest`, journaled; the
        index follows moved files. Finishes an interrupted run into the same `dest` instead."""
        with self.writing(wait) as store:
            return organizing.apply(store, dest, mode, noise, keep_channel, progress)

    def organize_undo(self, progress: ProgressHook | None = None, wait: bool = False) -> organizing.UndoResult:
        """Put back the files of the latest organize not undone yet; the index follows them back."""
        with self.writing(wait) as store:
            return organizing.undo(store, progress)

    # -- clusters -----------------------------------------------------------------------------
    def cluster(self, params: "ClusterParams | None" = None, vocabulary: str | Path | None = None,
                status: StatusHook | None = None, retune: bool = False, wait: bool = False) -> "ClusterResult":
        """Group the videos (UMAP + HDBSCAN), name the groups, and store labels, x/y and a clusters table.

        >>> run = Index().cluster(ClusterParams(min_size=5))
        >>> [(c.id, c.name, c.size) for c in run.clusters]

        `retune`: only HDBSCAN, on the points the latest fit saved (a new min_size/min_samples).
        The user's curation decisions (names, merges, moved videos) are kept either way.
        """
        from vindex.clustering import ClusterParams, cluster_index

        with self.writing(wait) as store:
            return cluster_index(store, self.embedder, params or ClusterParams(), vocabulary, status, retune)

    def clusters(self, under: str | Path | None = None, name: str | None = None) -> list[ClusterInfo]:
        """The latest `cluster` run's clusters, largest first, then the noise (id -1): id, name, size,
        mean probability and videos per channel (counting only the videos in folder `under` whose
        file name matches the glob `name`, when given)."""
        from vindex.clustering import cluster_overview

        return cluster_overview(self.store, self._filter(under, name))

    def cluster_members(self, cluster: int, under: str | Path | None = None, name: str | None = None) -> ClusterMembers:
        """One cluster (or -1, the noise) with its videos, most typical first (those in folder
        `under` whose file name matches the glob `name`, when given)."""
        from vindex.clustering import members

        return members(self.store, cluster, self._filter(under, name))

    def _filter(self, under: str | Path | None, name: str | None) -> str | None:
        """The videos-table filter for `under` (a folder inside the root: relative to it, or a real
        path) and `name` (a glob on the file name, case-sensitive), pushed into LanceDB's query."""
        if under is not None and (folder := video_filter(self.meta.root, under)) and not self.store.count_videos(folder):
            # An empty answer would read as "nothing matched" when the folder itself is the mistake.
            raise VindexError(f"--under {under}: no indexed video lies in that folder")
        return video_filter(self.meta.root, under, name) if under is not None or name is not None else None

    def report(self, out: str | Path = defaults.REPORT_FOLDER, thumbnails: int = defaults.THUMBNAILS_PER_CLUSTER,
               picture: bool = True, gallery: bool = True, status: StatusHook | None = None) -> list[Path]:
        """Write cluster_analysis.json, video_clusters_visualization.png and clusters.html into `out`."""
        from vindex.report import write_report

        return write_report(self.store, Path(out), thumbnails=thumbnails, picture=picture, gallery=gallery,
                            status=status)

    def query(
        self,
        text: str,
        limit: int = defaults.LIMIT,
        by: str = defaults.RANK,
        channels: tuple[str, ...] | list[str] = (),
        min_score: float | None = None,
        under: str | Path | None = None,
        name: str | None = None,
        moments: bool = False,
    ) -> QueryResult:
        """Videos matching a text, through the text tower of the model that built the index.

        `by="frame"` (the default) ranks a video by its best-matching frame, `by="video"` by
        its mean-pooled vector. `under` (a folder) and `name` (a file-name glob) filter the
        videos before ranking, so `limit` hits come back whenever that many pass.
        """
        self.store.require_videos()
        where = self._filter(under, name)
        probe, warnings = text_probe(self.embedder(), text)
        hits = search(self.store, probe, by, limit, tuple(channels), min_score, where=where, moments=moments)
        return QueryResult(probe.label, by, hits, probe.source, warnings)

    def similar(
        self,
        path: str | Path,
        limit: int = defaults.LIMIT,
        by: str = defaults.RANK,
        channels: tuple[str, ...] | list[str] = (),
        min_score: float | None = None,
        include_self: bool = False,
        under: str | Path | None = None,
        name: str | None = None,
        moments: bool = False,
        at: float | None = None,
    ) -> QueryResult:
        """Videos like the file at `path`, indexed or not (an unindexed file is embedded, not added):
        a video, or a still picture (JPEG, PNG...), which finds the videos and moments showing it.

        The file itself and its identical copies are left out unless `include_self`. `under` and
        `name` filter the candidates as in `query`; `moments` lists every matching segment of each hit;
        `at` (seconds) looks for one moment of an indexed video instead (its stored frame nearest then).
        """
        store = self.store
        store.require_videos()
        where = self._filter(under, name)
        probe = video_probe(store, path, self.embedder, include_self, at)
        hits = search(store, probe, by, limit, tuple(channels), min_score, where=where, moments=moments)
        return QueryResult(probe.label, by, hits, probe.source)

    def duplicates(
        self, mode: str = defaults.DUPLICATE_MODE, threshold: float | None = None,
        channels: tuple[str, ...] | list[str] = (), under: str | Path | None = None, name: str | None = None,
        where: str | None = None,
    ) -> DuplicateReport:
        """Groups of duplicate videos, each with its keeper and why every other member is a copy.

        `mode`: exact (same bytes), near (same pictures: re-encodes, resizes, crops, trims,
        sub-clips) or similar (same scene, by CLIP); `threshold` defaults to the mode's; only the
        videos in folder `under` whose file name matches the glob `name` (and that pass `where`, an
        SQL filter on the videos table) take part, when given."""
        return find_duplicates(self.store, mode, threshold, tuple(channels), all_of(self._filter(under, name), where))

    def export(self, hit: str | Path | Hit, at: float | str | None = None, clip: float | None = None,
               out: str | Path = ".", reencode: bool = False) -> Export:
        """Write a `clip`-second clip around the moment `at` (seconds or "M:SS"; a `Hit`'s own moment by
        default, else the start) of `hit` (a video id, an indexed file, or a search `Hit`) into the
        folder `out`, with the frame at that moment as a JPEG; a stream copy from the keyframe
        before, unless `reencode`. A `Hit` with no `clip` or `at` given gives its segment itself.
        Never overwrites a file."""
        span = None
        if isinstance(hit, Hit):
            if clip is None and at is None and hit.start is not None and hit.end is not None:
                span = (hit.start, hit.end)
            hit, at = hit.video_id, hit.timestamp if at is None else at
        return export(self.store, hit, at, clip or defaults.EXPORT_CLIP_SECONDS, out, reencode, span)

    def optimize(self, rebuild: bool = False, wait: bool = False) -> OptimizeSummary:
        """Compact the tables and build (or, with `rebuild`, retrain) the ANN indexes that the
        collection's size calls for."""
        import time

        started = time.perf_counter()
        with self.writing(wait) as store:
            store.require_videos()
            store.optimize()
            built = store.ensure_search_indexes(rebuild=rebuild)
            return OptimizeSummary(
                db=store.uri, videos=store.count_videos(), frames=store.count_frames(), built=built,
                vector_indexes=store.vector_indexes(), seconds=round(time.perf_counter() - started, 3),
            )

    def check(self, repair: bool = False, wait: bool = False) -> "CheckResult":
        """Verify what a user cannot see (every video has its frames and only those, vector sizes, no
        duplicate rows, files on disk, tables readable at their latest version); `repair` fixes what
        it can, taking the writer lock, and never deletes a video file."""
        from vindex.store.checking import check_index
        from vindex.organizing.recovery import journal_problems, unwedge

        uri = self._store.uri if self._store else resolve_db(self._db)
        result = check_index(uri, repair, wait)
        if repair:
            result.repaired += unwedge(uri)
            self.refresh()
        result.problems += journal_problems(uri)
        result.ok = not result.problems
        return result
