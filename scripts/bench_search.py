"""Benchmark search on a large synthetic index: latency, ANN recall, cold CLI time.

Fills an index through the store layer with synthetic vectors (this measures the database, not
CLIP), shaped like CLIP's: frames of a video close to each other (cosine ~0.9), videos of a topic
related (~0.65), unrelated frames still ~0.45 apart (CLIP's shared direction), and "text" probes
only ~0.3 from their best frames (the text/image gap). Then prints, in one run:

- exhaustive LanceDB search latency as the frames table grows (where brute force stops being cheap),
- ANN index build time, warm `query` latency without and with the text embedding, warm `similar`
  latency for an indexed video, recall@10 of the ANN path against brute force,
- cold `vindex query` CLI time including the model load.

    python scripts/bench_search.py                    # 100,000 videos / 500,000 frames (~15 min here)
    python scripts/bench_search.py --videos 20000     # a quicker check
    python scripts/bench_search.py --sweep 0.05,0.1,0.2,0.3  # recall/latency per share of partitions probed

The model is ViT-B-32 with randomly initialised weights saved as a local checkpoint (weights
cannot be downloaded here; loading them costs the same as loading the pretrained file).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from vindex.defaults import FRAMES_PER_VIDEO, MODEL, TINY_MODEL  # noqa: E402
from vindex.embedding import ModelSpec  # noqa: E402
from vindex.index import Index  # noqa: E402
from vindex.indexing.rows import mean_vector  # noqa: E402
from vindex.search import Probe, search  # noqa: E402
from vindex.store import Store  # noqa: E402
from vindex.store.vector_index import ANN_TEXT_PROBE_SHARE  # noqa: E402

GROWTH_CHECKPOINTS = (200, 400, 1000, 2000, 4000, 10_000, 20_000, 50_000, 100_000, 200_000, 500_000, 1_000_000)
WRITE_BATCH = 5000
QUERY_FILES = 20  # indexed videos that get a real file on disk, for `similar` by path
ONE_CHANNEL = ("ch007",)  # a channel filter that keeps 1 % of the rows (with the default 100 channels)


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


class Synthetic:
    """Deterministic CLIP-like vectors: a shared direction, topics, videos around topics, frames around videos."""

    def __init__(self, videos: int, dim: int, stream: int = 0, seed: int = 0):
        shape = np.random.default_rng(seed)  # the same topics for the index and for the probes
        self.dim = dim
        self.common = unit(shape.normal(size=dim))
        self.topics = unit(shape.normal(size=(max(10, videos // 20), dim)))
        self.rng = np.random.default_rng([seed, stream])

    def noise(self, n: int, norm: float) -> np.ndarray:
        return self.rng.normal(scale=norm / np.sqrt(self.dim), size=(n, self.dim)).astype(np.float32)

    def videos(self, count: int, frames: int) -> tuple[np.ndarray, np.ndarray]:
        """((count, frames, dim) frame vectors, (count, dim) mean-pooled video vectors)."""
        topic = self.topics[self.rng.integers(0, len(self.topics), count)]
        direction = unit(1.45 * self.common + topic + self.noise(count, 1.2))
        frame_vectors = unit(np.repeat(direction, frames, axis=0) + self.noise(count * frames, 0.4))
        frame_vectors = frame_vectors.reshape(count, frames, self.dim)
        return frame_vectors, np.stack([mean_vector(f) for f in frame_vectors])

    def text_probes(self, count: int) -> np.ndarray:
        topic = self.topics[self.rng.integers(0, len(self.topics), count)]
        return unit(0.5 * self.common + topic + self.noise(count, 2.6))


def vector_column(matrix: np.ndarray) -> pa.FixedSizeListArray:
    return pa.FixedSizeListArray.from_arrays(pa.array(matrix.reshape(-1)), matrix.shape[-1])


def write_batch(store: Store, root: Path, start: int, frames: np.ndarray, videos: np.ndarray, channels: int) -> None:
    count, per_video, _ = frames.shape
    numbers = np.arange(start, start + count)
    ids = [f"{n:016x}" for n in numbers]
    channel = [f"ch{n % channels:03d}" for n in numbers]
    paths = [f"{c}/video_{n:07d}.mp4" for c, n in zip(channel, numbers)]
    sizes, mtimes = [1_000_000] * count, [0] * count
    for i, path in enumerate(paths):
        if start + i < QUERY_FILES:
            file = root / path
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_bytes(os.urandom(1024))
            sizes[i], mtimes[i] = file.stat().st_size, file.stat().st_mtime_ns
    now = datetime.now(timezone.utc)
    video_rows = with_nulls(
        {
            "id": ids, "path": paths, "channel": channel, "size": sizes, "mtime_ns": mtimes,
            "content_hash": [f"{n:032x}" for n in numbers], "duration": [10.0] * count, "fps": [25.0] * count,
            "width": [640] * count, "height": [360] * count, "frame_count": [250] * count,
            "num_frames": [per_video] * count, "vector": vector_column(videos), "indexed_at": [now] * count,
            "cluster": pa.nulls(count, pa.int32()), "cluster_probability": pa.nulls(count, pa.float32()),
            "x": pa.nulls(count, pa.float32()), "y": pa.nulls(count, pa.float32()),
            "fingerprints": pa.nulls(count, pa.list_(pa.int64())),
            "fingerprint_times": pa.nulls(count, pa.list_(pa.float32())), "cluster_status": pa.nulls(count, pa.string()),
        },
        store.videos.schema,
    )
    frame_rows = with_nulls(
        {
            "video_id": np.repeat(ids, per_video), "frame_index": np.tile(np.arange(per_video, dtype=np.int32), count),
            "timestamp": np.tile(10.0 * (np.arange(per_video) + 0.5) / per_video, count),
            "vector": vector_column(frames), "phash": pa.nulls(count * per_video, pa.int64()),
            "blank": pa.nulls(count * per_video, pa.bool_()),
        },
        store.frames.schema,
    )
    store.write(video_rows, frame_rows)


def with_nulls(columns: dict, schema: pa.Schema) -> pa.Table:
    """The rows, with nulls in the columns that later schema versions added (fingerprints, ...)."""
    count = len(next(iter(columns.values())))
    for field in schema:
        columns.setdefault(field.name, pa.nulls(count, field.type))
    return pa.table(columns, schema=schema)


def median_ms(call, arguments: list) -> float:
    call(arguments[0])  # warm-up
    times = []
    for argument in arguments:
        started = time.perf_counter()
        call(argument)
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def exact_top10(store: Store, probes: list[Probe], by: str = "frame", channels: tuple = ()) -> list[set[str]]:
    return [{hit.video_id for hit in search(store, probe, by, 10, channels, exact=True)} for probe in probes]


def recall_at_10(store: Store, probes: list[Probe], truth: list[set[str]], by: str = "frame",
                 channels: tuple = ()) -> float:
    """Share of the brute-force top 10 that the ANN path finds, averaged over the probes."""
    found = [len(t & {hit.video_id for hit in search(store, probe, by, 10, channels)}) / max(1, len(t))
             for probe, t in zip(probes, truth)]
    return float(np.mean(found))


def model_spec(kind: str, folder: Path) -> ModelSpec:
    if kind == TINY_MODEL:
        return ModelSpec(TINY_MODEL)
    checkpoint = folder / f"{MODEL}-random.pt"
    if not checkpoint.exists():
        import open_clip
        import torch

        torch.save(open_clip.create_model(MODEL).state_dict(), checkpoint)
    return ModelSpec(MODEL, checkpoint=str(checkpoint))


def build(args, db: Path, root: Path, spec: ModelSpec) -> None:
    shutil.rmtree(db, ignore_errors=True)
    shutil.rmtree(root, ignore_errors=True)
    store = Store(str(db), create=True)
    store.initialise(args.dim, model=spec.name, pretrained=spec.pretrained, checkpoint=spec.checkpoint,
                     weights=spec.weights, frames_per_video=args.frames, root=str(root))
    data = Synthetic(args.videos, args.dim)
    probes = data.text_probes(5)
    written = 0
    started = time.perf_counter()
    print("exhaustive LanceDB search (no ANN index), median of 5 queries, as the frames table grows:")
    for checkpoint in [c for c in GROWTH_CHECKPOINTS if c < args.videos] + [args.videos]:
        while written < checkpoint:
            count = min(WRITE_BATCH, checkpoint - written)
            frames, videos = data.videos(count, args.frames)
            write_batch(store, root, written, frames, videos, args.channels)
            written += count
        latency = median_ms(lambda q: store.nearest("frames", q[None], 50, ["video_id"], exact=True), list(probes))
        print(f"  {written * args.frames:>9,} frames: {latency:8.1f} ms")
    print(f"wrote {written:,} videos / {written * args.frames:,} frames in {time.perf_counter() - started:.0f} s")
    started = time.perf_counter()
    store.optimize()
    print(f"compaction: {time.perf_counter() - started:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=100_000)
    parser.add_argument("--frames", type=int, default=FRAMES_PER_VIDEO, help="frames per video")
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--channels", type=int, default=100)
    parser.add_argument("--queries", type=int, default=30)
    parser.add_argument("--model", choices=[MODEL, TINY_MODEL], default=MODEL)
    parser.add_argument("--out", type=Path, default=Path("/tmp/vindex-bench-search"))
    parser.add_argument("--reuse", action="store_true", help="reuse the index left by a previous run of the same size")
    parser.add_argument("--rebuild-ann", action="store_true", help="with --reuse: retrain the ANN indexes")
    parser.add_argument("--sweep", default="", help="shares of partitions to probe (e.g. 0.05,0.1,0.2): recall and latency")
    args = parser.parse_args()

    args.out.mkdir(parents=True, exist_ok=True)
    db, root = args.out / f"index-{args.videos}", args.out / f"channels-{args.videos}"
    spec = model_spec(args.model, args.out)
    if not (args.reuse and db.is_dir()):
        build(args, db, root, spec)
    store = Store(str(db))
    started = time.perf_counter()
    built = store.ensure_search_indexes(rebuild=args.rebuild_ann)
    for index in built:
        print(f"{index['type']} on {index['table']}: {index['rows']:,} rows, {index['partitions']} partitions, "
              f"built in {index['seconds']:.1f} s")
    print(f"ANN indexes ready in {time.perf_counter() - started:.1f} s; partitions read per query of frames: "
          f"{store.nprobes('frames', ANN_TEXT_PROBE_SHARE)} for text, {store.nprobes('frames')} for a video")

    data = Synthetic(args.videos, args.dim, stream=1)
    texts = [Probe("text", v[None], v, "text") for v in data.text_probes(args.queries)]
    frames, videos = data.videos(args.queries, args.frames)
    clips = [Probe("video", f, v, "embedded") for f, v in zip(frames, videos)]
    stats_frames = np.concatenate([f for f in frames])
    print(f"synthetic cosines: unrelated frames {np.mean(stats_frames[:50] @ stats_frames[-50:].T):.2f}, "
          f"frames of one video {np.mean(np.sum(frames[:, 0] * frames[:, 1], axis=1)):.2f}, "
          f"text probe to its best frame {np.mean([h.score for p in texts[:5] for h in search(store, p, 'frame', 1)]):.2f}")

    print(f"\nat {args.videos:,} videos / {store.count_frames():,} frames ({args.model}):")
    print(f"  query, by frame, text embedding excluded: {median_ms(lambda p: search(store, p, 'frame', 10), texts):7.1f} ms")
    print(f"  query, by video, text embedding excluded: {median_ms(lambda p: search(store, p, 'video', 10), texts):7.1f} ms")
    print(f"  query, by frame, one channel:             "
          f"{median_ms(lambda p: search(store, p, 'frame', 10, ONE_CHANNEL), texts):7.1f} ms")
    exhaustive = median_ms(lambda p: search(store, p, "frame", 10, exact=True), texts[:5])
    print(f"  query, by frame, exhaustive (no ANN):     {exhaustive:7.1f} ms")
    index = Index(str(db))
    words = ["a cat on a sofa", "neon abstract", "city at night", "a red car", "people dancing"]
    index.query(words[0])  # loads the model
    print(f"  query, text embedding included:           {median_ms(lambda t: index.query(t), words * 2):7.1f} ms")
    files = sorted(str(path) for path in root.rglob("*.mp4"))
    print(f"  similar, indexed video (by path):         {median_ms(lambda f: index.similar(f), files):7.1f} ms")
    truth = {"text": exact_top10(store, texts), "video": exact_top10(store, texts, "video"),
             "similar": exact_top10(store, clips), "channel": exact_top10(store, texts, channels=ONE_CHANNEL)}

    def recalls() -> str:
        return (f"query by frame {recall_at_10(store, texts, truth['text']):.3f}, "
                f"by video {recall_at_10(store, texts, truth['video'], 'video'):.3f}, "
                f"one channel {recall_at_10(store, texts, truth['channel'], channels=ONE_CHANNEL):.3f}, "
                f"similar {recall_at_10(store, clips, truth['similar']):.3f}")

    print(f"  recall@10 ANN vs brute force: {recalls()}")

    if args.sweep:
        default = store.nprobes
        for share in [float(n) for n in args.sweep.split(",")]:
            store.nprobes = lambda name, _, kept_rows=None, share=share: default(name, share, kept_rows)
            latency = median_ms(lambda p: search(store, p, "frame", 10), texts)
            print(f"  probing {share:.0%} ({store.nprobes('frames', share)} frame partitions): query {latency:.1f} ms, "
                  f"recall@10 {recalls()}")
        store.nprobes = default

    for backend in ("torch", "openvino"):
        print(f"  cold CLI `vindex query --backend {backend}` incl. model load: "
              f"{cold_query_seconds(db, backend):7.2f} s (median of 3)")


def cold_query_seconds(db: Path, backend: str, runs: int = 3) -> float:
    """Median wall time of a `vindex query` in a fresh process; the OpenVINO model is converted
    (once per machine) by a first run that is not timed."""
    command = [sys.executable, "-m", "vindex", "query", "a cat on a sofa", "--db", str(db), "-n", "5",
               "--backend", backend]
    environment = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    subprocess.run(command, check=True, capture_output=True, env=environment)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, env=environment)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


if __name__ == "__main__":
    main()
