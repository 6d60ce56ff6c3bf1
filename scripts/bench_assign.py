#!/usr/bin/env python
"""Benchmark how videos added after `vindex cluster` join its clusters, on an indexed corpus.

    python -m vindex add /tmp/assign-corpus/channels --db /tmp/assign-index --model vindex-tiny -q
    python scripts/bench_assign.py /tmp/assign-index                  # seeds 1,2,3; 20 % held out
    python scripts/bench_assign.py /tmp/assign-index --min-size 5 --unseen
    python scripts/bench_assign.py /tmp/assign-index --videos 120 --draw 2   # a random 120 of them

For each seed, 20 % of the videos are held out, the rest clustered (`group_vectors`, the options of
`vindex cluster`), and the held-out videos placed with the saved models, as `add` does. Printed per
seed and per method, for the held-out videos:

- vote: the share that got the label their 5 nearest clustered videos (cosine, in the vectors) vote
  for (-1 when most of those are noise);
- refit: the share that got the cluster a full re-fit on every video gives them, the re-fit's
  clusters taking the first fit's ids by membership (`carry_ids`, as a second `vindex cluster` does:
  against the stored clusters, the fit's labels and the placements);
- match: the same, among the held-out videos whose neighbours' cluster the re-fit kept: the label
  their 5 nearest clustered videos vote for is the same id (or the noise) in the fit and in the
  re-fit. A re-fit that splits or merges clusters, or that takes the fit's noise into a cluster,
  relabels those fitted videos themselves, which no placement can foresee; `n` is how many held-out
  videos are compared (the same videos for every method);
- noise / far: how many were called noise, and how many of those as too far from their neighbours' cluster;
- unseen (`--unseen`): of the videos of one channel left out of the fit altogether, how many were
  called noise: what the distance threshold is for.

Methods: `before`, UMAP `transform` + HDBSCAN `approximate_predict` (what `add` did until the
clusters' spreads were saved); then `joining.join` in each space (`vectors`, `umap`) with each
threshold (`--thresholds`: a percentile of the members' distances times a margin); `*` marks the
defaults (`vindex/clustering/joining.py`). Targets: vote and match >= 0.90 at every seed.
"""

from __future__ import annotations

import argparse
import platform
import sys
import warnings
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from vindex.clustering import ClusterParams, assign, group_vectors, joining  # noqa: E402
from vindex.clustering.stable_ids import NO_PREVIOUS, carry_ids  # noqa: E402
from vindex.defaults import MIN_CLUSTER_SIZE, NEIGHBORS  # noqa: E402
from vindex.store import Store, vectors_of  # noqa: E402

VOTERS = 5  # the yardstick: the label the 5 nearest clustered videos vote for


def cpu_name() -> str:
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown CPU"
    model = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), "?")
    return f"{model}, avx512_bf16 {'yes' if 'avx512_bf16' in info else 'no'}"


def neighbour_vote(held: np.ndarray, fitted: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The label the VOTERS nearest fitted videos (cosine) vote for; ties go to the nearest."""
    distances = joining.distances(held, fitted, "cosine")
    voted = np.empty(len(held), np.int32)
    for i, row in enumerate(distances):
        nearest = np.argsort(row, kind="stable")[:VOTERS]
        tally = Counter(labels[nearest].tolist())
        best = max(tally.values())
        voted[i] = next(label for label in labels[nearest] if tally[label] == best)
    return voted


def before(models, label_ids: dict[int, int], held: np.ndarray) -> np.ndarray:
    """The placement `add` used before: UMAP transform, then HDBSCAN's approximate_predict."""
    import hdbscan

    models.hdbscan.generate_prediction_data()
    points = assign.transform(models.umap, held) if models.umap is not None else held
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw, _ = hdbscan.approximate_predict(models.hdbscan, points.astype(np.float64))
    return np.array([label_ids.get(int(label), -1) for label in raw], np.int32)


def one_seed(vectors: np.ndarray, channels: list[str], seed: int, params: ClusterParams,
             thresholds: list[tuple[float, float]], share: float, unseen: bool) -> list[dict]:
    rng = np.random.default_rng(seed)
    names = sorted(set(channels))
    kept = np.array([not unseen or channel != names[seed % len(names)] for channel in channels])
    order = rng.permutation(np.flatnonzero(kept))
    held_count = int(round(share * len(order)))
    held_rows, fit_rows = np.sort(order[:held_count]), np.sort(order[held_count:])
    unseen_rows = np.flatnonzero(~kept)
    fitted = group_vectors(vectors[fit_rows], params)
    models = fitted.models
    found = models.raw_labels >= 0
    label_ids = {int(raw): int(final) for raw, final in zip(models.raw_labels[found], fitted.labels[found])}
    held = vectors[held_rows]

    refit = group_vectors(vectors, params)
    voted = neighbour_vote(held, vectors[fit_rows], fitted.labels)
    sizes = np.bincount(fitted.labels[fitted.labels >= 0])
    base = dict(seed=seed, fitted=len(fit_rows), held=len(held_rows), clusters=len(sizes),
                largest=int(sizes.max()) if len(sizes) else 0, fit_noise=int(np.sum(fitted.labels < 0)),
                held_voted_noise=int(np.sum(voted < 0)))
    held = np.concatenate([held, vectors[unseen_rows]])  # an unseen channel's videos come last

    rows = []
    placed = before(models, label_ids, held)
    rows.append(dict(base, method="before", labels=placed, far_flags=np.zeros(len(placed), bool)))
    for space in joining.JOIN_SPACES:
        for percentile, margin in thresholds:
            content = assign.models_content(models, label_ids, params.metric, space, VOTERS, percentile, margin)
            placed, _, _, statuses = assign.place(content, held, lambda message: None)
            chosen = (space, percentile, margin) == (joining.JOIN_SPACE, joining.JOIN_PERCENTILE, joining.JOIN_MARGIN)
            method = f"{space} p{percentile:g}x{margin:g}" + (" *" if chosen else "")
            rows.append(dict(base, method=method, labels=placed,
                             far_flags=np.array([status == joining.ASSIGNED_FAR for status in statuses])))
    for row in rows:
        labels, far = row.pop("labels"), row.pop("far_flags")
        row["unseen_noise"] = f"{int(np.sum(labels[held_count:] < 0))}/{len(unseen_rows)}" if unseen else "-"
        # What a second `vindex cluster` reads as the previous clusters: the fit's labels and the placements.
        previous = np.full(len(vectors), NO_PREVIOUS, np.int32)
        previous[fit_rows], previous[held_rows], previous[unseen_rows] = fitted.labels, labels[:held_count], \
            labels[held_count:]
        refit_ids = carry_ids(refit.labels, previous)
        labels, row["far"] = labels[:held_count], int(far[:held_count].sum())
        # Where the re-fit keeps the neighbours' cluster: their vote is the same id in both fits.
        matched = neighbour_vote(vectors[held_rows], vectors[fit_rows], refit_ids[fit_rows]) == voted
        refit_ids = refit_ids[held_rows]
        row["vote"] = float(np.mean(labels == voted))
        row["refit"] = float(np.mean(labels == refit_ids))
        row["refit_matched"] = float(np.mean(labels[matched] == refit_ids[matched])) if matched.any() else float("nan")
        row["matched"] = int(matched.sum())
        row["noise"] = int(np.sum(labels < 0))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("index", help="an index made by `vindex add` (its videos' vectors are read)")
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--share", type=float, default=0.2, help="share of the videos held out and added later")
    parser.add_argument("--min-size", type=int, default=MIN_CLUSTER_SIZE)
    parser.add_argument("--neighbors", type=int, default=NEIGHBORS)
    parser.add_argument("--unseen", action="store_true",
                        help="also leave one channel out of the fit (another per seed); count its videos called noise")
    parser.add_argument("--videos", type=int, help="use a random draw of this many of the index's videos")
    parser.add_argument("--draw", type=int, default=0, help="the seed of that draw")
    parser.add_argument("--thresholds", default="95x1,100x1,95x1.5,100x1.5",
                        help="the clusters' spreads tried: PERCENTILExMARGIN, comma-separated")
    args = parser.parse_args()

    store = Store(args.index)
    rows = store.catalog(["id", "channel", "vector"])
    vectors, channels = vectors_of(rows.column("vector")), rows.column("channel").to_pylist()
    if args.videos:
        drawn = np.sort(np.random.default_rng(args.draw).permutation(len(vectors))[:args.videos])
        vectors, channels = vectors[drawn], [channels[i] for i in drawn]
        print(f"# a draw (seed {args.draw}) of {len(vectors)} of the index's videos")
    params = ClusterParams(min_size=args.min_size, neighbors=args.neighbors)
    thresholds = [tuple(float(part) for part in item.split("x")) for item in args.thresholds.split(",")]
    print(f"# {len(vectors)} videos of {args.index} (model {store.meta.model}), {args.share:.0%} held out, "
          f"min size {args.min_size}, neighbours {args.neighbors}; CPU: {cpu_name()}")
    print(f"{'seed':>4} {'method':<18} {'vote':>6} {'refit':>6} {'match':>6} {'n':>3} {'noise':>5} {'far':>4} {'unseen':>6}  "
          "fit: clusters, largest, noise; held: voted noise")
    for seed in [int(s) for s in args.seeds.split(",")]:
        for row in one_seed(vectors, channels, seed, params, thresholds, args.share, args.unseen):
            print(f"{row['seed']:>4} {row['method']:<18} {row['vote']:>6.3f} {row['refit']:>6.3f} "
                  f"{row['refit_matched']:>6.3f} {row['matched']:>3} {row['noise']:>2}/{row['held']:<2} {row['far']:>4} "
                  f"{row['unseen_noise']:>6}  {row['clusters']}, {row['largest']}/{row['fitted']}, {row['fit_noise']}; "
                  f"{row['held_voted_noise']}", flush=True)


if __name__ == "__main__":
    main()
