#!/usr/bin/env python
"""Benchmark `vindex add`: decode-only, model-only, the combined limit, end to end per backend
and precision (torch, OpenVINO, OpenVINO int8) side by side, peak RSS, unchanged re-runs, and
what the perceptual fingerprints cost (decode and add with and without them, in the same run).

    python scripts/bench_add.py                      # 60 videos of 10 s at ~360p, ViT-B-32 (random weights)
    python scripts/bench_add.py --videos 24 --model vindex-tiny --unchanged 10000
    python scripts/bench_add.py --runtimes torch:auto,openvino:auto --unchanged 0
    python scripts/bench_add.py --runtimes torch:auto --unchanged 0 --pairs 2 --long 4   # fingerprint cost
    python scripts/bench_add.py --runtimes openvino:auto --unchanged 0 --pairs 0 --onnx  # ONNX Runtime vs OpenVINO

On a CPU the decoder and the model share the cores, so the ceiling for `add` is the combined one,
1 / (1/decode-only + 1/model-only) videos/s, each measured on all cores in the same run.

Weights cannot be downloaded everywhere, so the model's architecture is initialised randomly
and saved as a checkpoint that `add --checkpoint` loads: speed does not depend on the values.
"""

from __future__ import annotations

import argparse
import json
import os
import math
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from vindex.demo import PATTERNS, make_corpus, render, theme_for
from vindex.embedding import ModelSpec, open_embedder
from vindex.indexing import EmbedJob, decode_ahead
from vindex.indexing.calibration import calibration_frames, sample_frames
from vindex.scanning import scan

# A long 720p video is this much footage encoded once, joined to itself up to its length.
BASE_720P_SECONDS = 300.0


def build_corpus(folder: Path, videos: int) -> Path:
    root = folder / "channels"
    if not root.is_dir():
        print(f"making {videos} videos of 10 s at about 640x360, 30 fps in {root} ...", flush=True)
        make_corpus(root, channels=6, videos_per_channel=max(1, videos // 6), seed=0, size=(640, 360),
                    seconds=(10, 10), fps=30)
    return root


def model_spec(name: str, folder: Path) -> ModelSpec:
    if name == "vindex-tiny":
        return ModelSpec(name)
    checkpoint = folder / f"{name}-random.pt"
    if not checkpoint.exists():
        import open_clip
        import torch

        torch.save(open_clip.create_model(name, pretrained=None).state_dict(), checkpoint)
    return ModelSpec(name, checkpoint=str(checkpoint))


def long_videos(folder: Path, count: int, seconds: float = 120.0) -> Path:
    """`count` videos of `seconds` at 640x360, 30 fps, a new shot every 4 s (so x264 puts keyframes
    at the cuts, besides one every 250 frames as the ffmpeg command does), encoded as they render."""
    import av
    from fractions import Fraction

    root = folder / f"long{count}x{seconds:.0f}" / "channels"
    if root.is_dir():
        return root
    rng = np.random.default_rng(1)
    for number in range(count):
        path = root / "long" / f"long_{number:02d}.mp4"
        path.parent.mkdir(parents=True, exist_ok=True)
        with av.open(str(path), "w") as container:
            stream = container.add_stream("libx264", rate=30)
            stream.width, stream.height, stream.pix_fmt = 640, 360, "yuv420p"
            stream.codec_context.gop_size = 250
            for shot in range(int(seconds / 4)):
                theme = theme_for(int(rng.integers(len(PATTERNS))))
                for picture in render(theme, 640, 360, 120, rng):
                    for packet in stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
                        container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
    return root


def decode_only(root: Path, frames: int, size: int, workers: int, fingerprints: bool = True) -> float:
    """Videos decoded per second, with or without the dense fingerprints."""
    jobs = [EmbedJob("", [f], [""], [False]) for f in scan(root)]
    started = time.perf_counter()
    for _ in decode_ahead(jobs, frames, size, workers, fingerprints=fingerprints):
        pass
    return len(jobs) / (time.perf_counter() - started)


def fingerprint_cost(root: Path, frames: int, size: int, workers: int, pairs: int) -> dict[bool, tuple[float, float]]:
    """Without (False) and with (True) fingerprints: (decode rate in videos/s, CPU seconds of the
    decoding), the best of `pairs` alternating runs. CPU time is the steadier figure on a busy machine."""
    best = {False: (0.0, float("inf")), True: (0.0, float("inf"))}
    for _ in range(pairs):
        for fingerprints in (False, True):
            cpu = time.process_time()
            rate = decode_only(root, frames, size, workers, fingerprints)
            cpu = time.process_time() - cpu
            best[fingerprints] = (max(best[fingerprints][0], rate), min(best[fingerprints][1], cpu))
    return best


def model_only(embedder, batch_size: int, seconds: float = 5.0) -> float:
    images = np.random.default_rng(0).integers(0, 256, (batch_size, embedder.image_size, embedder.image_size, 3), np.uint8)
    embedder.embed_images(images)  # warm-up
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        embedder.embed_images(images)
        count += batch_size
    return count / (time.perf_counter() - started)


def vindex_add(root: Path, db: Path, spec: ModelSpec, frames: int | None, batch_size: int, extra: list[str],
               fingerprints: bool = True) -> tuple[dict, float]:
    """`vindex add` in a subprocess; `frames=None` leaves the frame count to the default policy."""
    command = [sys.executable, "-m", "vindex", "add", str(root), "--db", str(db), "--model", spec.name,
               *(["--frames", str(frames)] if frames else []), "--batch-size", str(batch_size), "--json", "-q", *extra]
    if not fingerprints:
        command.append("--without-fingerprints")
    if spec.checkpoint:
        command += ["--checkpoint", spec.checkpoint]
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if result.returncode:
        sys.exit(f"vindex add failed: {result.stderr.strip()}")
    return json.loads(result.stdout), wall


def link_farm(root: Path, folder: Path, count: int) -> Path:
    """`count` hard links to the corpus videos in 100 channels: a large collection that costs no disk."""
    farm = folder / f"farm{count}" / "channels"
    if farm.is_dir():
        return farm
    sources = sorted(f.abs_path for f in scan(root))
    for number in range(count):
        target = farm / f"channel_{number % 100:03d}" / f"video_{number:06d}.mp4"
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(sources[number % len(sources)], target)
    return farm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, default=Path("/tmp/vindex-bench"), help="corpus and index go here")
    parser.add_argument("--videos", type=int, default=60)
    parser.add_argument("--model", default="ViT-B-32")
    parser.add_argument("--frames", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--runtimes", default="torch:auto,openvino:auto,openvino:int8",
                        help="backend:precision pairs to compare, comma-separated")
    parser.add_argument("--unchanged", type=int, default=10000, help="size of the unchanged re-run test (0: skip)")
    parser.add_argument("--engine", default="local", help="passed to `vindex add --engine` when not local")
    parser.add_argument("--pairs", type=int, default=1,
                        help="add runs without and with fingerprints, alternating (the first runtime; 0: skip)")
    parser.add_argument("--long", type=int, default=0, help="also measure the fingerprints' cost on this many 2-minute videos")
    parser.add_argument("--onnx", action="store_true",
                        help="also run the model exported as ONNX (immich's layout) on ONNX Runtime and on OpenVINO")
    parser.add_argument("--policy-footage", type=Path, default=None,
                        help="compare the default frame policy with 5 uniform frames on this folder's clips of 5-30 s "
                             "(e.g. /work/footage/real), and time a long 720p video joined from them")
    parser.add_argument("--long-720p", type=float, default=300.0, help="seconds of that long 720p video (0: skip; 3600: an hour, 5 minutes of footage joined 12 times)")
    args = parser.parse_args()
    if args.policy_footage:
        spec = model_spec(args.model, args.folder)
        policy_report(args, spec, [])
        return
    args.folder.mkdir(parents=True, exist_ok=True)
    root = build_corpus(args.folder, args.videos)
    videos = sum(1 for _ in scan(root))
    spec = model_spec(args.model, args.folder)
    workers = os.cpu_count() or 1
    engine = [] if args.engine == "local" else ["--engine", args.engine]
    runtimes = [tuple(pair.split(":")) for pair in args.runtimes.split(",")]

    rows = []
    decode_rate = None
    for backend, precision in runtimes:
        # Loading first converts (and for int8 calibrates) the model once, outside the timings.
        embedder = open_embedder(spec, "cpu", precision, backend, calibration=calibration_frames(root))
        embedder.embed_images(np.zeros((1, embedder.image_size, embedder.image_size, 3), np.uint8))
        if decode_rate is None:
            decode_rate = decode_only(root, args.frames, embedder.image_size, workers)
        image_rate = model_only(embedder, args.batch_size)
        label = f"{backend} {embedder.precision}"
        del embedder
        db = args.folder / f"index-{args.model}-{args.engine}-{backend}-{precision}"
        subprocess.run(["rm", "-rf", str(db)], check=True)
        extra = [*engine, "--backend", backend, "--precision", precision]
        summary, wall = vindex_add(root, db, spec, args.frames, args.batch_size, extra)
        model_rate = image_rate / args.frames
        # Both stages need the same cores: at best their CPU times add up.
        combined = 1 / (1 / decode_rate + 1 / model_rate)
        rows.append((label, image_rate, model_rate, combined, summary["embedded"] / summary["seconds"], summary, wall))
    peak_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    rerun, rerun_wall = vindex_add(root, db, spec, args.frames, args.batch_size, extra)

    print(f"\ncorpus: {videos} videos under {root}; {args.frames} frames/video; {workers} CPUs; model {args.model}, "
          f"batch {args.batch_size}")
    print(f"decode only: {decode_rate:.2f} videos/s ({workers} decoder threads)\n")
    print(f"{'runtime':<16} {'model img/s':>11} {'model v/s':>9} {'limit v/s':>9} {'add v/s':>8} {'add/limit':>9} "
          f"{'add vs first':>12}  add run (s, with start-up)")
    for label, image_rate, model_rate, combined, end_to_end, summary, wall in rows:
        print(f"{label:<16} {image_rate:11.1f} {model_rate:9.2f} {combined:9.2f} {end_to_end:8.2f} "
              f"{end_to_end / combined:9.0%} {end_to_end / rows[0][4]:11.2f}x  {summary['embedded']} videos in "
              f"{summary['seconds']:.1f} s ({wall:.1f} s)")
    print(f"\npeak RSS of add  : {peak_rss:7.0f} MiB (the largest of the runs above)")
    print(f"unchanged re-run : {rerun['seconds']:7.2f} s in add, {rerun_wall:.2f} s for the whole command "
          f"({rerun['unchanged']} unchanged)")
    if args.onnx:
        onnx_comparison(args, root, spec, decode_rate)
    if args.pairs:
        backend, precision = runtimes[0]
        fingerprint_report(args, root, spec, workers, [*engine, "--backend", backend, "--precision", precision])
    if args.unchanged:
        farm = link_farm(root, args.folder, args.unchanged)
        farm_db = args.folder / f"index-farm{args.unchanged}"
        subprocess.run(["rm", "-rf", str(farm_db)], check=True)
        first, first_wall = vindex_add(farm, farm_db, spec, args.frames, args.batch_size, extra)
        again, again_wall = vindex_add(farm, farm_db, spec, args.frames, args.batch_size, extra)
        print(f"{args.unchanged} files ({first['embedded']} distinct): first add {first_wall:.1f} s; "
              f"unchanged re-run {again['seconds']:.2f} s in add, {again_wall:.2f} s for the whole command")


def onnx_comparison(args, root: Path, spec: ModelSpec, decode_rate: float) -> None:
    """The same exported towers and the same frames on ONNX Runtime (as immich and rclip run CLIP on
    a CPU) and on OpenVINO: image tower images/s, the add limit it allows, cosine to torch fp32."""
    import onnxruntime

    from vindex.embedding import Embedder
    from vindex.embedding.export import export_model
    from vindex.embedding.model_folder import read_model_folder

    folder = args.folder / f"export-{args.model}-immich"
    if not (folder / "model.json").is_file():
        export_model(spec, folder, "immich")
    exported = read_model_folder(folder)
    frames = sample_frames(root, args.batch_size, exported.image_size)
    reference = Embedder(spec, "cpu", "fp32").embed_images(frames)
    session = onnxruntime.InferenceSession(str(exported.image_path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name

    def onnx_runtime(batch: np.ndarray) -> np.ndarray:
        vectors = session.run(None, {name: exported.image_inputs(batch)})[0]
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    openvino_onnx = open_embedder(ModelSpec(folder=str(folder)), "cpu", "auto", "openvino")
    openvino_fp32 = open_embedder(ModelSpec(folder=str(folder)), "cpu", "fp32", "openvino")
    openvino_ir = open_embedder(spec, "cpu", "auto", "openvino")
    print(f"\nthe same {len(frames)} frames of the corpus, {args.model} exported (random weights), batch {args.batch_size}:")
    print(f"{'runtime':<34} {'img/s':>7} {'limit v/s':>9} {'min cosine to torch fp32':>25}")
    for label, embed in (("ONNX Runtime " + onnxruntime.__version__ + " (ONNX)", onnx_runtime),
                         (f"OpenVINO {openvino_onnx.precision} (same ONNX file)", openvino_onnx.embed_images),
                         ("OpenVINO fp32 (same ONNX file)", openvino_fp32.embed_images),
                         (f"OpenVINO {openvino_ir.precision} (IR, uint8 in)", openvino_ir.embed_images)):
        vectors = embed(frames)
        count, started = 0, time.perf_counter()
        while time.perf_counter() - started < 5.0:
            embed(frames)
            count += len(frames)
        rate = count / (time.perf_counter() - started)
        limit = 1 / (1 / decode_rate + args.frames / rate)
        cosine = float(np.min(np.sum(vectors * reference, axis=1)))
        print(f"{label:<34} {rate:7.1f} {limit:9.2f} {cosine:25.5f}")


def fingerprint_report(args, root: Path, spec: ModelSpec, workers: int, extra: list[str]) -> None:
    """What the dense fingerprints cost: decode alone and a whole add, without and with them, on
    the corpus and (with --long) on 2-minute videos, which take the seek path and a keyframes pass."""
    size = 224
    corpora = [("corpus", root, args.frames)]
    if args.long:
        # At --frames N a long video without fingerprints decodes N frames by seeking; under the
        # default frame policy it is decoded in full for its shots, and the fingerprints share that pass.
        long = long_videos(args.folder, args.long)
        corpora += [(f"{args.long} videos of 120 s", long, args.frames),
                    (f"{args.long} videos of 120 s, default frame policy", long, None)]
    print(f"\nfingerprints, {args.frames} frames/video at {size} px unless said, best of {args.pairs} alternating runs:")
    for name, folder, frames in corpora:
        if frames:
            decode = fingerprint_cost(folder, frames, size, workers, args.pairs)
            print(f"{name}: decode only {decode[False][0]:6.2f} videos/s without, {decode[True][0]:6.2f} with "
                  f"({decode[False][0] / decode[True][0] - 1:+.1%} time); CPU {decode[False][1]:.2f} s without, "
                  f"{decode[True][1]:.2f} s with ({decode[True][1] / decode[False][1] - 1:+.1%})")
        runs: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
        for _ in range(args.pairs):
            for fingerprints in (False, True):
                db = args.folder / f"index-fingerprints-{fingerprints}"
                subprocess.run(["rm", "-rf", str(db)], check=True)
                used = resource.getrusage(resource.RUSAGE_CHILDREN)
                summary, _ = vindex_add(folder, db, spec, frames, args.batch_size, extra, fingerprints)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu = after.ru_utime + after.ru_stime - used.ru_utime - used.ru_stime
                runs[fingerprints].append((summary["seconds"], cpu))
        wall = {key: min(run[0] for run in values) for key, values in runs.items()}
        cpu = {key: min(run[1] for run in values) for key, values in runs.items()}
        print(f"{name}: add {' '.join(extra)}: {wall[False]:6.2f} s without, {wall[True]:6.2f} s with "
              f"({wall[True] / wall[False] - 1:+.1%} time); CPU of the whole command {cpu[False]:.1f} s without, "
              f"{cpu[True]:.1f} s with ({cpu[True] / cpu[False] - 1:+.1%}); runs (s, CPU s): "
              f"without {[(round(a, 1), round(b, 1)) for a, b in runs[False]]}, "
              f"with {[(round(a, 1), round(b, 1)) for a, b in runs[True]]}")


def footage_clips(footage: Path, folder: Path) -> Path:
    """Hard links to the footage's files of 5 to 30 s (`add` indexes them as they are)."""
    import av

    root = folder / "policy-clips" / "channels"
    if root.is_dir():
        return root
    for source in sorted(footage.iterdir()):
        try:
            with av.open(str(source)) as container:
                seconds = (container.duration or 0) / 1e6
        except (av.FFmpegError, OSError):
            continue
        if 5 <= seconds <= 30:
            target = root / "clips" / source.name
            target.parent.mkdir(parents=True, exist_ok=True)
            os.link(source, target)
    return root


def long_720p(footage: Path, folder: Path, seconds: float) -> Path:
    """One H.264 720p 30 fps video of `seconds`, the footage's clips joined again and again (x264
    with its default keyframe rules, veryfast). Past BASE_720P_SECONDS, that much is encoded once
    and joined to itself (concat demuxer, `-c copy`) up to `seconds`: an hour costs one 5-minute encode."""
    path = folder / f"long720p-{seconds:.0f}" / "channels" / "long" / "long_720p.mp4"
    if path.exists():
        return path.parent.parent
    path.parent.mkdir(parents=True, exist_ok=True)
    base_seconds = min(seconds, BASE_720P_SECONDS)
    base = folder / f"long720p-base-{base_seconds:.0f}.mp4"
    if not base.exists():
        sources = [p for p in sorted(footage.iterdir()) if p.suffix in (".mp4", ".mkv", ".avi", ".webm", ".mov")]
        listing = folder / "list.txt"
        scale = ("scale=1280:720:force_original_aspect_ratio=decrease,pad=1280:720:(ow-iw)/2:(oh-ih)/2,fps=30,"
                 "format=yuv420p")
        pieces = []
        for number, source in enumerate(sources):
            piece = listing.parent / f"piece_{number:03d}.mkv"
            subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(source), "-t", "15", "-an", "-vf", scale, "-c:v",
                            "libx264", "-preset", "ultrafast", "-crf", "18", str(piece)], check=False)
            if piece.exists() and piece.stat().st_size:
                pieces.append(piece)
        listing.write_text("".join(f"file '{p}'\n" for p in pieces) * 50)
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", str(listing), "-t",
                        str(base_seconds), "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", str(base)], check=True)
    if seconds <= base_seconds:
        shutil.copyfile(base, path)
        return path.parent.parent
    repeats = folder / "repeats.txt"
    repeats.write_text(f"file '{base}'\n" * math.ceil(seconds / base_seconds))
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", str(repeats), "-t", str(seconds),
                    "-c", "copy", str(path)], check=True)
    return path.parent.parent


def policy_report(args, spec: ModelSpec, extra: list[str]) -> None:
    """The default frame policy against 5 uniform frames on real clips of 5-30 s (add time, best of
    --pairs alternating runs), then a long 720p video: real-time factor, frames per minute, and the
    keyframe pass's share of the add time."""
    from vindex.frames import read_frames
    from vindex.sampling import FramePolicy

    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    print(f"CPU: {cpu} ({'with' if 'avx512_bf16' in open('/proc/cpuinfo').read() else 'no'} avx512_bf16), "
          f"{os.cpu_count()} cores; model {args.model}")
    if args.pairs:  # --pairs 0: the long video alone
        clips = footage_clips(args.policy_footage, args.folder)
        best: dict[str, float] = {}
        for _ in range(max(1, args.pairs)):
            for name, frames, more in (("5 uniform", 5, ["--sampling", "uniform"]), ("default", None, [])):
                db = args.folder / "index-policy"
                subprocess.run(["rm", "-rf", str(db)], check=True)
                summary, _ = vindex_add(clips, db, spec, frames, args.batch_size, [*extra, *more])
                best[name] = min(best.get(name, float("inf")), summary["seconds"])
                best[name + " frames"] = summary["frames"] / max(1, summary["embedded"])
        print(f"clips of 5-30 s ({summary['embedded']} files): add {best['default']:.2f} s by default "
              f"({best['default frames']:.1f} frames/video) against {best['5 uniform']:.2f} s with 5 uniform frames: "
              f"{best['default'] / best['5 uniform']:.2f}x")
    if not args.long_720p:
        return
    root = long_720p(args.policy_footage, args.folder, args.long_720p)
    video = next(root.rglob("*.mp4"))
    db = args.folder / "index-long720p"
    subprocess.run(["rm", "-rf", str(db)], check=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    summary, wall = vindex_add(root, db, spec, None, args.batch_size, extra)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # CPU seconds of the add (start-up included): on a machine shared with other work, what 2 cores
    # of its own would need at best (the wall time waits for the others too).
    cpu_seconds = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    started, cpu_started = time.perf_counter(), time.process_time()
    # The decode alone: the steady pass over every reference frame, which gives the fingerprints,
    # the shots and the frames the policy picks (vindex.shot_frames).
    read_frames(str(video), FramePolicy(), 224, sampling="shots")
    keyframes, decode_cpu = time.perf_counter() - started, time.process_time() - cpu_started
    minutes = args.long_720p / 60
    print(f"720p H.264, {args.long_720p:.0f} s: add {summary['seconds']:.1f} s ({wall:.1f} s with start-up) = "
          f"{args.long_720p / summary['seconds']:.1f}x real time; {summary['frames']} frames = "
          f"{summary['frames'] / minutes:.1f} per minute; its decode alone (the steady pass: fingerprints, shots, "
          f"frames) {keyframes:.1f} s = {keyframes / summary['seconds']:.0%} of the add; CPU seconds: the add "
          f"{cpu_seconds:.1f} (= {args.long_720p / (cpu_seconds / 2):.1f}x real time if 2 cores were its own), "
          f"the decode alone {decode_cpu:.1f} = {decode_cpu / cpu_seconds:.0%} of the add's")


if __name__ == "__main__":
    main()
