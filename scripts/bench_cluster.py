#!/usr/bin/env python
"""Benchmark `vindex cluster`'s core (UMAP 512 → 5 + HDBSCAN, plus the 2-D picture layout) on synthetic
512-d vectors with planted clusters, and report the adjusted Rand index against the planted labels.

    python scripts/bench_cluster.py                        # 10,000 and 100,000 vectors (a few minutes)
    python scripts/bench_cluster.py --sizes 2000,5000      # a quick check
    python scripts/bench_cluster.py --compare              # also the alternatives the defaults were chosen over

Printed per size: seconds for nearest neighbours, the two UMAP layouts, HDBSCAN, and the total (wall
and CPU), the ARI on planted members and the share of them called noise, and a retune in the same run
(`vindex cluster --retune`'s core: HDBSCAN again on the fit's 5-D layout at twice the --min-size).
The JIT cost is measured apart, in fresh processes: with an empty numba cache (the first run on a machine) and with a warm one (every
later process). Targets on a 2-core box: 10k <= 10 s, 100k <= 60 s, JIT excluded.

    python scripts/bench_cluster.py --cold 120 --baseline /tmp/vindex-before   # `vindex cluster` from a fresh shell

`--cold N` times the whole command (`python -m vindex cluster`, report included) in fresh processes on a
generated N-video index (tiny model), after one untimed run (numba's cache and the naming terms warm,
as on a machine that clustered before), and a cold `vindex add` of 3 new videos that the saved models
place; `--baseline DIR` runs another checkout of vindex side by side, alternating. Target: <= 4 s for
<= 1,000 videos.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from vindex.clustering import ClusterParams, by_size, grouping, group_vectors, jit, layout  # noqa: E402
from vindex.clustering.retune import regroup  # noqa: E402


def planted(count: int, clusters: int, seed: int = 0, noise_share: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors around `clusters` centres with Zipf-like sizes, plus scattered noise (label -1).

    Like CLIP embeddings, every vector shares a common direction, so unrelated videos still have
    cosine ≈ 0.45, clusters of one family ≈ 0.6 and members of a cluster ≈ 0.75.
    """
    rng = np.random.default_rng(seed)
    dim = 512
    common = rng.normal(size=dim)
    common /= np.linalg.norm(common)
    # Clusters come in families of three sharing a theme (say, three kinds of city footage).
    themes = rng.normal(size=(max(1, clusters // 3), dim)) / np.sqrt(dim)
    centres = 0.6 * themes[np.arange(clusters) % len(themes)] + 0.8 * rng.normal(size=(clusters, dim)) / np.sqrt(dim)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    weights = 1.0 / np.arange(1, clusters + 1) ** 0.7
    labels = rng.choice(clusters, size=count, p=weights / weights.sum())
    labels[rng.random(count) < noise_share] = -1
    spread = np.where(labels >= 0, 0.025, 0.05)[:, None]
    anchor = np.where(labels[:, None] >= 0, centres[np.maximum(labels, 0)], rng.normal(size=(count, dim)) / np.sqrt(dim))
    vectors = 0.75 * common + 0.66 * anchor + spread * rng.normal(size=(count, dim))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors.astype(np.float32), labels


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def jit_in_fresh_process(cache: Path, pynndescent: bool) -> float:
    """Seconds a new process spends importing UMAP and compiling/loading its kernels."""
    code = (
        "import time; t = time.perf_counter();"
        "from vindex.clustering.jit import prepare_umap;"
        f"prepare_umap(lambda m: None, 512, needs_pynndescent={pynndescent});"
        "print(time.perf_counter() - t)"
    )
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache / "numba"), XDG_CACHE_HOME=str(cache / "xdg"),
               PYTHONPATH=str(Path(__file__).resolve().parent.parent) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return float(result.stdout.strip().splitlines()[-1])


def ari(planted_labels: np.ndarray, found: np.ndarray) -> tuple[float, float]:
    from sklearn.metrics import adjusted_rand_score

    members = planted_labels >= 0
    return adjusted_rand_score(planted_labels[members], found[members]), float(np.mean(found[members] < 0))


def run(count: int, clusters: int, params: ClusterParams) -> dict:
    vectors, labels = planted(count, clusters)
    wall, cpu = time.perf_counter(), cpu_seconds()
    grouping = group_vectors(vectors, params)
    wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
    score, noise = ari(labels, grouping.labels)
    absorbed = float(np.mean(grouping.labels[labels < 0] >= 0)) if np.any(labels < 0) else 0.0
    seconds = {k: round(v, 2) for k, v in grouping.seconds.items()}
    jit = seconds.pop("jit", 0.0)
    # A retune: the same run's saved 5-D layout, HDBSCAN again at twice the min-size, no UMAP.
    retune_params = ClusterParams(**dict(params.to_dict(), min_size=2 * params.min_size))
    started = time.perf_counter()
    retuned, _, _ = regroup(grouping.embedding, retune_params)
    retune_wall = time.perf_counter() - started
    return dict(n=count, planted=clusters, found=grouping.num_clusters, epochs=grouping.epochs, seconds=seconds,
                jit_in_run=jit, retune_wall=round(retune_wall, 3), retune_min_size=retune_params.min_size,
                retune_found=int(retuned.max()) + 1,
                total_wall=round(wall - jit, 2), total_cpu=round(cpu, 2), ari=round(score, 4), member_noise=round(noise, 4),
                planted_noise_clustered=round(absorbed, 4))


def compare(count: int, clusters: int, params: ClusterParams) -> list[dict]:
    """The alternatives: layouts one after the other, UMAP's 500 epochs, fast_hdbscan, pynndescent."""
    rows = []
    vectors, labels = planted(count, clusters)

    def timed(label: str, module=grouping, **changes) -> None:
        saved = {name: getattr(module, name) for name in changes}
        for name, value in changes.items():
            setattr(module, name, value)
        try:
            started, cpu = time.perf_counter(), cpu_seconds()
            grouping = group_vectors(vectors, params)
            elapsed = time.perf_counter() - started - grouping.seconds.get("jit", 0.0)
            cpu = cpu_seconds() - cpu
        finally:
            for name, value in saved.items():
                setattr(module, name, value)
        score, noise = ari(labels, grouping.labels)
        rows.append(dict(variant=label, n=count, wall=round(elapsed, 2), cpu=round(cpu, 2), ari=round(score, 4),
                         member_noise=round(noise, 4),
                         seconds={k: round(v, 2) for k, v in grouping.seconds.items() if k != "jit"}))

    timed("default")
    timed("layouts one after the other", LAYOUT_THREADS=1)
    timed("500 epochs (UMAP's default up to 10k)", layout, EPOCHS=500)
    timed("100 epochs (what 100k gets)", layout, EPOCHS=100)
    timed("pynndescent neighbours", layout, EXACT_NEIGHBOURS_MAX=0)

    try:
        import fast_hdbscan
    except ImportError:
        print("fast_hdbscan not installed: that variant skipped (pip install fast_hdbscan)", file=sys.stderr)
        return rows

    def fast(points, p):
        model = fast_hdbscan.HDBSCAN(min_cluster_size=p.min_size, min_samples=p.min_samples or p.min_size).fit(points)
        return by_size(model.labels_.astype(np.int32)), model.probabilities_.astype(np.float32), None

    fast(np.random.default_rng(0).normal(size=(200, 5)), params)  # compile before timing
    timed("fast_hdbscan instead of hdbscan", run_hdbscan=fast)
    return rows


def cold_runs(videos: int, baseline: Path | None, repeats: int) -> dict:
    """Median wall seconds of `vindex cluster` (and of `vindex add` of 3 new videos) in fresh processes."""
    import shutil
    import statistics

    from vindex.demo import make_corpus

    here = Path(__file__).resolve().parent.parent
    checkouts = {"this": here} | ({"baseline": baseline.resolve()} if baseline else {})
    work = Path(tempfile.mkdtemp(prefix="vindex-cold-"))
    try:
        channels = 6
        make_corpus(work / "corpus", channels=channels, videos_per_channel=max(1, videos // channels), seed=0,
                    size=(96, 72), seconds=(1.0, 2.0), fps=10)
        make_corpus(work / "more", channels=3, videos_per_channel=1, seed=9, size=(96, 72), seconds=(1.0, 2.0), fps=10)

        def vindex(checkout: Path, *args: str) -> tuple[float, float]:
            """Wall and CPU seconds of one command in a fresh process (CPU: steadier on a busy box)."""
            env = dict(os.environ, PYTHONPATH=str(checkout))
            children = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            subprocess.run([sys.executable, "-m", "vindex", *args], env=env, cwd=checkout, check=True, capture_output=True)
            wall = time.perf_counter() - started
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            return wall, after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime

        cluster_args = ["--min-size", "5", "--out", str(work / "report"), "-q"]
        times: dict[str, dict[str, list[tuple[float, float]]]] = {name: {"cluster": [], "add": []} for name in checkouts}
        for name, checkout in checkouts.items():
            db = work / f"{name}.vindex"
            vindex(checkout, "add", str(work / "corpus"), "--db", str(db), "--model", "vindex-tiny", "-q")
            vindex(checkout, "cluster", "--db", str(db), *cluster_args)  # warm: numba cache, naming terms
            shutil.copytree(db, work / f"{name}-clustered.vindex")
        for _ in range(repeats):
            for name, checkout in checkouts.items():
                times[name]["cluster"].append(vindex(checkout, "cluster", "--db", str(work / f"{name}.vindex"),
                                                     *cluster_args))
                db = work / f"{name}-add.vindex"
                shutil.rmtree(db, ignore_errors=True)
                shutil.copytree(work / f"{name}-clustered.vindex", db)
                added = []
                for path in (work / "more").rglob("*.mp4"):
                    added.append(next((work / "corpus").glob(path.parent.name)) / f"new_{path.name}")
                    shutil.copy(path, added[-1])
                times[name]["add"].append(vindex(checkout, "add", str(work / "corpus"), "--db", str(db), "-q"))
                for path in added:
                    path.unlink()
        return {name: {f"{step}_{kind}": round(statistics.median(value[i] for value in values), 2)
                       for step, values in steps.items() for i, kind in enumerate(("wall", "cpu"))}
                for name, steps in times.items()} | {"videos": channels * max(1, videos // channels)}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated vector counts")
    parser.add_argument("--clusters", type=int, default=30, help="planted clusters")
    parser.add_argument("--compare", action="store_true", help="also time the alternatives on the smallest size")
    parser.add_argument("--no-jit", action="store_true", help="skip the fresh-process JIT measurements")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--cold", type=int, metavar="N", help="time `vindex cluster` from a fresh shell on N videos")
    parser.add_argument("--baseline", type=Path, help="with --cold: another vindex checkout to time side by side")
    parser.add_argument("--repeats", type=int, default=3, help="with --cold: runs per checkout (median shown)")
    args = parser.parse_args()
    if args.cold:
        cold = cold_runs(args.cold, args.baseline, args.repeats)
        if args.json:
            print(json.dumps(cold, indent=2))
            return
        print(f"fresh process, {cold.pop('videos')} videos, median of {args.repeats} (`vindex cluster --min-size 5`, "
              "report included; `vindex add` of 3 new videos into the clustered index):")
        for name, steps in cold.items():
            print(f"  {name:<9} cluster {steps['cluster_wall']:5.2f} s wall {steps['cluster_cpu']:5.2f} s CPU   "
                  f"add {steps['add_wall']:5.2f} s wall {steps['add_cpu']:5.2f} s CPU")
        return
    sizes = [int(s) for s in args.sizes.split(",") if s]
    params = ClusterParams()
    results: dict = {"cpus": os.cpu_count(), "params": params.to_dict()}

    if not args.no_jit:
        with tempfile.TemporaryDirectory() as cache:
            results["jit_first_run_s"] = round(jit_in_fresh_process(Path(cache), False), 1)
            results["jit_later_process_s"] = round(jit_in_fresh_process(Path(cache), False), 1)
            if max(sizes) > layout.EXACT_NEIGHBOURS_MAX:
                results["jit_pynndescent_later_process_s"] = round(jit_in_fresh_process(Path(cache), True), 1)
        if not args.json:
            print(f"JIT, fresh process: {results['jit_first_run_s']} s with an empty numba cache (first run), "
                  f"{results['jit_later_process_s']} s with a warm one"
                  + (f", {results['jit_pynndescent_later_process_s']} s with pynndescent (above "
                     f"{layout.EXACT_NEIGHBOURS_MAX} vectors)" if "jit_pynndescent_later_process_s" in results else ""))

    # Warm this process up, so the sizes below measure clustering only.
    jit.prepare_umap(lambda m: None, 512, needs_pynndescent=max(sizes) > layout.EXACT_NEIGHBOURS_MAX)
    results["runs"] = []
    for count in sizes:
        row = run(count, args.clusters, params)
        results["runs"].append(row)
        if not args.json:
            s = row["seconds"]
            print(f"{count:>7} vectors, {row['epochs']} epochs: {row['total_wall']:6.1f} s wall, {row['total_cpu']:6.1f} s CPU "
                  f"(neighbours {s.get('neighbours', 0)}, UMAP 5-D + 2-D {s.get('umap', 0)}, HDBSCAN {s.get('hdbscan', 0)}) "
                  f"ARI {row['ari']:.3f}, {row['found']} clusters for {row['planted']} planted, "
                  f"{100 * row['member_noise']:.1f} % of members called noise, "
                  f"{100 * row['planted_noise_clustered']:.0f} % of planted noise put in a cluster", flush=True)
            print(f"{'':>7} retune to --min-size {row['retune_min_size']} from the saved 5-D layout (no UMAP): "
                  f"{row['retune_wall']:.3f} s wall, {row['retune_found']} clusters", flush=True)
    if args.compare:
        results["compare"] = compare(min(sizes), args.clusters, params)
        if not args.json:
            for row in results["compare"]:
                print(f"  {row['variant']:<40} {row['wall']:6.1f} s wall {row['cpu']:6.1f} s CPU  ARI {row['ari']:.3f}  "
                      f"{row['seconds']}")
    if args.json:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
