#!/usr/bin/env python
"""Benchmark `vindex dupes`: precision and recall on a labelled set of copies and look-alikes, and
the time of the fingerprint comparison at 10,000 videos.

    python scripts/bench_dupes.py                 # the labelled set, then the timing (a few minutes)
    python scripts/bench_dupes.py --demo          # also the demo corpus (120 videos): its groups
    python scripts/bench_dupes.py --skip-set      # the timing only
    python scripts/bench_dupes.py --footage /work/footage/real --skip-set --keep DIR   # real footage
    python scripts/bench_dupes.py --corpus /tmp/corpus --skip-set   # the shared corpus (make_corpus.py OUT)
    python scripts/bench_dupes.py --footage /work/footage/final --unseen final --skip-set   # the final check
    python scripts/bench_dupes.py --footage /work/footage/extra --unseen extra --skip-set   # the extra check
    python scripts/bench_dupes.py --footage /work/footage/last --unseen last --skip-set   # the last check
    python scripts/bench_dupes.py --footage /work/footage/sixth --unseen sixth --skip-set   # the sixth check
    python scripts/bench_dupes.py --footage /work/footage/seventh --unseen seventh --skip-set   # the seventh check
    python scripts/bench_dupes.py --footage /work/footage/eighth --unseen eighth --skip-set   # the eighth check
    python scripts/bench_dupes.py --footage /work/footage/ninth --unseen ninth --skip-set   # the ninth check
    python scripts/bench_dupes.py --footage /work/footage/tenth --unseen tenth --skip-set   # the tenth check
    python scripts/bench_dupes.py --footage /work/footage/eleventh --unseen eleventh --skip-set   # the eleventh check

`--footage DIR` (the folder scripts/fetch_footage.sh makes) builds a labelled set from real footage with
ffmpeg (`scripts/dupes_footage.py`: originals of 3.5-8 s, each copied 10 ways, sub-clips of 2-30 s of
a long video, other footage of the same sources, shared black and title intros) in two parts, tuning
and held-out (separate source files), indexes each with the tiny model and prints near mode's
precision and recall per transformation, whether the keepers are the originals, and what the
fingerprints cost while adding. With `--keep DIR` a set already built there is used again.
With `--unseen [NAME]` the footage (`fetch_footage.sh --final`, `--extra`, `--last`, `--sixth`, `--seventh`,
`--eighth`, `--ninth`, `--tenth`, `--eleventh` or `--twelfth`) is one part, never tuned on, reported under NAME ("unseen" if none is given): its files of a
minute or more make the long video (without any, the set has no long video and no sub-clips), the others
the originals.

`--corpus DIR` (a corpus written by the shared `make_corpus.py`, with its `truth.csv`) indexes its
videos and reports near mode's groups against truth.csv: a member is right when it and its keeper
are one video or a planted copy (`dup_of`) and its original; every other group is a false one.

The labelled set (`vindex.demo.make_duplicate_set`): originals, each copied by every
transformation (re-encodes at a low bit rate and in other codecs, scaled down and up, cropped,
letterboxed, trimmed, start cut, sped up), a 5-minute video with a 10 s sub-clip cut at 2:31 (and a scaled
copy of it), and look-alikes that are not copies (videos sharing a black intro, sharing a title
card, other clips of an original's scene). It is indexed with the tiny model, then `dupes` runs in
each mode. Precision: members whose keeper is of their family / all members. Recall: copies in
the group of their family's original / all copies, per transformation. A 10 % crop of each
original is added and reported apart, outside the target: it shows where the fingerprints stop.

The timing uses synthetic hashes (random 64-bit values, one per second of 60 s per video) with
planted copies (a third of a video, bits flipped as a re-encode does), since 10,000 real videos
take hours to index here; it runs the same candidate search and scoring `dupes` runs.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import av
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from vindex import Index, ModelSpec  # noqa: E402
from vindex.defaults import DUPLICATE_THRESHOLDS  # noqa: E402
from vindex.demo import TRANSFORMATIONS, centre_crop, make_corpus, make_duplicate_set, write_video  # noqa: E402
from vindex.duplicates.fingerprint_match import Fingerprints, candidate_pairs, contained_pairs  # noqa: E402


STRESS = "cropped 10 % (outside the target)"


def evaluate(report, labels: list) -> tuple[float, dict[str, tuple[int, int]], int]:
    """(precision, {kind: (found, copies)}, members below the threshold)."""
    family = {path: name for path, name, _ in labels}
    members = [(video.path, group.keeper.path) for group in report for video in group.videos[1:]]
    precision = sum(family[a] == family[b] for a, b in members) / len(members) if members else 1.0
    group_of = {video.path: number for number, group in enumerate(report) for video in group.videos}
    originals = {name: path for path, name, kind in labels if kind == "original"}
    per_kind: dict[str, list[int]] = {}
    for path, name, kind in labels:
        if name in originals and kind != "original":
            found = path in group_of and group_of[path] == group_of.get(originals[name])
            tally = per_kind.setdefault(kind, [0, 0])
            tally[0] += found
            tally[1] += 1
    below = sum(video.score < report.threshold for group in report for video in group.videos
                if report.threshold is not None)
    return precision, {kind: tuple(tally) for kind, tally in per_kind.items()}, below


def labelled_set(work: Path, originals: int) -> None:
    root, db = work / "labelled", work / "labelled.vindex"
    started = time.perf_counter()
    labels = make_duplicate_set(root, originals=originals, long_seconds=300.0, clip=(151.0, 10.0))
    for number in range(originals):  # beyond the set's 5 % crop: how far the fingerprints go
        with av.open(str(root / f"original_{number}.mp4")) as container:
            pictures = np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)])
        write_video(root / f"cropped_10_{number}.mp4", centre_crop(pictures, 0.9), 10)
        labels.append((f"cropped_10_{number}.mp4", f"original_{number}", STRESS))
    made = time.perf_counter() - started
    started = time.perf_counter()
    Index(str(db), precision="fp32").add(root, model=ModelSpec("vindex-tiny"))
    indexed = time.perf_counter() - started
    negatives = Counter(kind for _, name, kind in labels if kind in ("black intro", "title card", "same scene"))
    print(f"labelled set: {len(labels)} videos ({originals} originals x {len(TRANSFORMATIONS)} transformations, "
          f"a 5:00 video with a 0:10 sub-clip at 2:31 and a scaled copy of it, look-alikes: "
          f"{', '.join(f'{n} {k}' for k, n in negatives.items())}); made in {made:.0f} s, indexed in {indexed:.0f} s")
    index = Index(str(db))
    for mode in ("near", "similar", "exact"):
        started = time.perf_counter()
        report = index.duplicates(mode=mode)
        seconds = time.perf_counter() - started
        precision, per_kind, below = evaluate(report, labels)
        found, total = (sum(v) for v in zip(*(tally for kind, tally in per_kind.items() if kind != STRESS)))
        print(f"\n{mode} mode (threshold {report.threshold}): {len(report.groups)} groups in {seconds:.2f} s, "
              f"precision {precision:.3f}, recall {found / total:.3f} ({found}/{total}; the 10 % crop apart), "
              f"members below the threshold: {below}")
        for warning in report.warnings:
            print(f"  warning: {warning}")
        print(f"  {'transformation':<24} recall")
        for kind, (hits, count) in per_kind.items():
            print(f"  {kind:<24} {hits}/{count}")
        if mode == "near":
            for group in report:
                for video in group.videos:
                    if video.path.startswith("subclip"):
                        print(f"  {video.path}: {video.reason}, offset {video.offset} s, score {video.score:.3f}, "
                              f"keeper {group.keeper.path} (cut at 151.0 s)")


def footage_set(footage: Path, work: Path, parts_shown: list[str], unseen: str | None = None) -> None:
    import json

    import dupes_footage

    listing = work / "footage" / "labels.json"
    started = time.perf_counter()
    if listing.exists():
        parts = {part: (Path(root), [tuple(label) for label in labels])
                 for part, (root, labels) in json.loads(listing.read_text()).items()}
    else:
        parts = dupes_footage.build(footage, work / "footage", unseen=unseen)
        listing.write_text(json.dumps({part: (str(root), labels) for part, (root, labels) in parts.items()}))
    print(f"\nreal footage from {footage}: built in {time.perf_counter() - started:.0f} s")
    for part, (root, labels) in parts.items():
        if part not in parts_shown:
            continue
        db = work / f"footage-{part}.vindex"
        if not db.exists():
            Index(str(db), precision="fp32").add(root, model=ModelSpec("vindex-tiny"))
        report = Index(str(db)).duplicates(mode="near")
        precision, per_kind, below = evaluate(report, labels)
        found, total = (sum(v) for v in zip(*per_kind.values()))
        negatives = Counter(kind for _, _, kind in labels if kind not in per_kind and kind != "original")
        print(f"\n{part}: {len(labels)} videos ({sum(k == 'original' for *_, k in labels)} originals; look-alikes: "
              f"{', '.join(f'{n} {k}' for k, n in negatives.items())}, the shared black and title intros)")
        print(f"  near mode (threshold {report.threshold}): {len(report.groups)} groups, precision {precision:.3f}, "
              f"recall {found / total:.3f} ({found}/{total}), members below the threshold: {below}")
        print(f"  {'transformation':<28} recall   precision")
        family = {path: name for path, name, _ in labels}
        kind_of = {path: kind for path, _, kind in labels}
        for kind, (hits, count) in per_kind.items():
            members = [(video.path, group.keeper.path) for group in report for video in group.videos[1:]
                       if kind_of[video.path] == kind]
            right = sum(family[a] == family[b] for a, b in members)
            print(f"  {kind:<28} {hits:>2}/{count:<4} {right}/{len(members)}")
        kept = Counter(kind_of[group.keeper.path] for group in report)
        intro, trimmed = lesser_keepers(report, kind_of)
        print(f"  keepers: {dict(kept)}; kept over a copy of the whole: a black or title intro copy {intro}, "
              f"a trimmed copy {trimmed}")
        offsets = [(video.path, video.offset) for group in report for video in group.videos
                   if "@" in video.path]
        off = [abs(offset - float(path.split("@")[1].removesuffix(".mp4"))) for path, offset in offsets
               if offset is not None]
        if off:
            print(f"  sub-clip offsets: {len(off)} found, at most {max(off):.2f} s from the cut")
        for name, long in (("originals (3.5-8 s)", False), ("the long video", True)):
            # The long video is an original too (of its sub-clips): counted apart.
            paths = [root / path for path, _, kind in labels
                     if kind == "original" and path.startswith("long_") == long]
            if not paths:  # footage with no file of a minute or more makes no long video
                print(f"  decode CPU for {name}: none in this set")
                continue
            without, with_ = decode_cost(paths)
            print(f"  decode CPU for {name}: {without:.2f} s without fingerprints, {with_:.2f} s with "
                  f"({with_ / without - 1:+.0%}; {(with_ - without) / len(paths):.3f} s a video)")
        for group in report:
            for video in group.videos[1:]:
                if family[video.path] != family[group.keeper.path]:
                    print(f"    false: {video.path} in {group.keeper.path}'s group, score {video.score:.3f}")
        grouped = {video.path: group.keeper.path for group in report for video in group.videos}
        originals = {name: path for path, name, kind in labels if kind == "original"}
        for path, name, kind in labels:
            if kind in per_kind and grouped.get(path) is None or (kind in per_kind and grouped.get(path)
                                                                   != grouped.get(originals[name])):
                print(f"    missed: {path} ({kind})")


# Copies that hold the whole of their original's footage and nothing else: any of them is a right keeper.
WHOLE_COPIES = ("original", "scale", "crf", "other codec", "fps", "letterbox", "pillarbox")
INTRO_COPIES = ("black intro", "title intro", "black intro + letterbox")


def lesser_keepers(report, kind_of: dict[str, str]) -> tuple[int, int]:
    """(groups keeping an intro copy, groups keeping a trimmed copy) where the group holds a copy of
    the whole footage: what a user would lose (a trim's seconds) or keep needlessly (an intro). A group
    without one (its original and whole copies missed) may rightly keep either."""
    counts = Counter()
    for group in report:
        if any(kind_of[video.path] in WHOLE_COPIES for video in group.videos):
            counts[kind_of[group.keeper.path]] += 1
    return sum(counts[kind] for kind in INTRO_COPIES), counts["trim both ends"]


def decode_cost(paths: list[Path]) -> tuple[float, float]:
    """CPU seconds to decode `paths` as `add` does (5 frames at 224 px), without and with the
    fingerprints: the best of two alternating runs, one thread."""
    from vindex.frames import read_frames

    best = {False: float("inf"), True: float("inf")}
    for _ in range(2):
        for fingerprints in (False, True):
            started = time.process_time()
            for path in paths:
                read_frames(str(path), 5, 224, fingerprints=fingerprints)
            best[fingerprints] = min(best[fingerprints], time.process_time() - started)
    return best[False], best[True]


def demo_corpus(work: Path) -> None:
    root, db = work / "demo", work / "demo.vindex"
    if not root.exists():
        make_corpus(root, channels=6, videos_per_channel=20, seed=0, size=(320, 240), seconds=(2, 6), fps=24)
    if not db.exists():
        Index(str(db)).add(root, model=ModelSpec("vindex-tiny"))
    index = Index(str(db))
    print(f"\ndemo corpus: {len(list(root.rglob('*.mp4')))} videos (python -m vindex.demo defaults), tiny model; "
          "every video is distinct, so every group is a false one")
    for mode in ("near", "similar"):
        report = index.duplicates(mode=mode)
        sizes = sorted((len(group.videos) for group in report), reverse=True)
        scores = [video.score for group in report for video in group.videos[1:]]
        below = sum(score < report.threshold for score in scores)
        print(f"  {mode} (threshold {report.threshold}): {len(sizes)} groups ({sum(sizes)} videos), largest "
              f"{sizes[0] if sizes else 0} videos, member scores {min(scores, default=0):.3f}-{max(scores, default=0):.3f}, "
              f"members below the threshold: {below}")
        if mode == "near":
            for group in report:
                print(f"    {' '.join(video.path for video in group.videos)}")


def shared_corpus(corpus: Path, work: Path) -> None:
    """Near mode on a corpus of the shared make_corpus.py, scored against its truth.csv."""
    import csv

    db = work / "corpus.vindex"
    truth = list(csv.DictReader((corpus / "truth.csv").open()))
    if not db.exists():
        Index(str(db)).add(corpus / "channels", model=ModelSpec("vindex-tiny"))
    report = Index(str(db)).duplicates(mode="near")
    original = {row["path"].removeprefix("channels/"): (row["dup_of"] or row["path"]).removeprefix("channels/")
                for row in truth}
    planted = {path for path, row in zip(original, truth) if row["kind"] == "dupe"}
    members = [(video.path, group.keeper.path) for group in report for video in group.videos[1:]]
    right = [(a, b) for a, b in members if original.get(a) == original.get(b)]
    group_of = {video.path: number for number, group in enumerate(report) for video in group.videos}
    found = [path for path in planted if path in group_of and group_of[path] == group_of.get(original[path])]
    print(f"\nshared corpus {corpus}: {report.compared} videos, {len(planted)} planted copies, tiny model")
    print(f"  near mode (threshold {report.threshold}): {len(report.groups)} groups, precision "
          f"{len(right) / len(members) if members else 1.0:.3f} ({len(right)}/{len(members)} members), "
          f"planted copies found {len(found)}/{len(planted)}")
    for group in report:
        for video in group.videos[1:]:
            if original.get(video.path) != original.get(group.keeper.path):
                print(f"    false: {video.path} in {group.keeper.path}'s group, score {video.score:.3f}, "
                      f"{video.reason}")


def timing(videos: int, per_video: int, copies: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    hashes = rng.integers(0, 1 << 62, (videos, per_video), dtype=np.int64).view(np.uint64) * np.uint64(4)
    hashes |= rng.integers(0, 4, (videos, per_video), dtype=np.int64).view(np.uint64)
    times = np.arange(per_video) + 0.5
    fingerprints = [Fingerprints(row, times) for row in hashes]
    planted = set()
    for original in 2 * rng.choice(videos // 2, copies, replace=False):  # disjoint pairs (even, odd)
        copy = original + 1
        part = hashes[original, per_video // 3 : 2 * per_video // 3].copy()
        for bit in range(3):  # three flipped bits per frame, a re-encode's worth
            part ^= np.uint64(1) << rng.integers(0, 64, len(part)).astype(np.uint64)
        fingerprints[copy] = Fingerprints(part, np.arange(len(part)) + 0.5)
        planted.add((int(original), int(copy)))
    started = time.perf_counter()
    candidates = candidate_pairs(fingerprints)
    searched = time.perf_counter() - started
    found = contained_pairs(fingerprints, DUPLICATE_THRESHOLDS["near"])
    total = time.perf_counter() - started
    recovered = len(planted & set(found))
    print(f"\ntiming (synthetic hashes, not real videos): {videos:,} videos x {per_video} fingerprints, "
          f"{len(planted)} planted copies")
    print(f"  candidate search {searched:.2f} s ({len(candidates):,} candidate pairs of "
          f"{videos * (videos - 1) // 2:,}), with scoring {total:.2f} s; "
          f"planted copies found {recovered}/{len(planted)}, other pairs reported {len(found) - recovered}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--originals", type=int, default=4, help="originals in the labelled set")
    parser.add_argument("--videos", type=int, default=10_000, help="videos in the timing")
    parser.add_argument("--fingerprints", type=int, default=60, help="fingerprints per video in the timing")
    parser.add_argument("--demo", action="store_true", help="also index the demo corpus and report its groups")
    parser.add_argument("--skip-set", action="store_true", help="only the timing")
    parser.add_argument("--footage", type=Path, help="also build the labelled set from the real footage in this folder")
    parser.add_argument("--parts", default="tuning,held-out",
                        help="which parts of the real footage set to report (the held-out one only at the end)")
    parser.add_argument("--unseen", nargs="?", const="unseen", metavar="NAME",
                        help="the footage is one part never tuned on (the final check), reported whole "
                             "under NAME (default: unseen)")
    parser.add_argument("--corpus", type=Path, help="also score near mode on this make_corpus.py corpus (truth.csv)")
    parser.add_argument("--keep", type=Path, help="make the videos and indexes in this new folder, and keep them")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-dupes-"))
    try:
        if not args.skip_set:
            labelled_set(work, args.originals)
        if args.footage:
            footage_set(args.footage, work, [args.unseen] if args.unseen else args.parts.split(","), args.unseen)
        if args.demo:
            demo_corpus(work)
        if args.corpus:
            shared_corpus(args.corpus, work)
        timing(args.videos, args.fingerprints, copies=args.videos // 20)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
