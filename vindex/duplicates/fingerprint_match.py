"""Near-duplicates by perceptual fingerprints: which videos show the same pictures, and where.

Each video has 64-bit DCT hashes of its footage (no blank frames, title cards or frozen ends),
sampled five times a second (once a second past 30 s), in time order, each with a colour signature
(`vindex.fingerprints.colour_signatures`). Two frames match when their hashes differ in at most
`MAX_DISTANCE` bits. A shorter video is contained in a longer one when most of its frames match
frames of the longer one at one consistent time offset, which is where the shorter one starts in
the longer one (a trim, a sub-clip, or 0 for a re-encode), when those matches show the same colours
on average, and when it lies within the longer one (`MAX_OVERHANG`).

Finding the pairs of videos worth scoring never compares all pairs: the hashes are split into four
16-bit chunks (multi-index hashing); frames that share a chunk value are candidate frame pairs,
their exact Hamming distance is one XOR and popcount each, in blocks, and only video pairs with a
matching frame pair are scored.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vindex.fingerprints import colour_apart, fine_distance

# Bits (of 64) by which two hashes of the same picture may differ. On the synthetic labelled set
# re-encodes, resizes and letterboxes differ by 0-4 bits, a 5 % crop by up to 10; on real footage
# (scripts/bench_dupes.py --footage) a re-encode of fast, fine-grained motion (a music visualizer,
# a diver) differs by 4-14 bits from its original at the same frame. Tuning part: recall 0.87 at
# 10 bits, 0.90 at 12, 0.92 at 14 (threshold 0.8), precision 1.0 at each.
MAX_DISTANCE = 14
# The frames matched at the offset show the same colours as their matches (vindex.fingerprints.
# colour_apart: the largest difference of the picture's quarters' grey levels, of its halves' U or V),
# on average over the frames, within these levels of 255. The copies of the real footage
# (scripts/bench_dupes.py --footage, both parts) are 15 grey levels and 3.5 chroma levels apart at
# most (fast motion sampled at other instants, bars cropped a row apart on a dark game); in the shared
# corpus two pans over one photo are 45-58 grey levels apart, and fractal zooms in other colour maps
# 4.4-16 chroma levels. 2 chroma levels (chosen on the tuning part alone) left out 7 copies of fast,
# colourful footage of the held-out part to keep out a few demo look-alikes (one pattern in palettes
# up to 15 % apart in brightness: 2-5 chroma levels).
MAX_MEAN_GREY_APART, MAX_MEAN_CHROMA_APART = 20.0, 4.0
# The frames matched at the offset and their closest matches have finer hashes (vindex.fingerprints.
# fine_hashes: 256 bits, four times the hash's) no more apart on average than four times their hashes'
# mean distance plus this many bits. A picture that changes as a whole (fast motion sampled at other
# instants, compression) moves a like share of both hashes' bits; one whose detail differs where its
# low frequencies agree (checkerboards of other checker sizes) moves the finer hash's alone. Tuning part
# of the real footage (scripts/bench_dupes.py --footage): pairs of copies 33.3 bits at most (a game's
# title-intro copy against its letterboxed one); the demo corpus's look-alikes 4-121 bits, 68 of its 89
# pairs above 40.
FINE_PER_HASH_BIT, MAX_FINE_EXCESS = 4.0, 40.0
# A shorter video that holds one still picture (its consecutive samples this many bits apart or fewer,
# the median: a game's board, a slide) matches at every offset, and sampling at other instants explains
# none of its distance: its frames' closest matches must be this close on average. On the real footage
# (scripts/bench_dupes.py --footage, all three parts) copies of still footage are 5.3 bits apart at the
# 99th percentile, most of it letterbox and pillarbox resampling; other cuts of one still screen
# recording (a board game seconds later, a few tiles moved) 5.2-9.4 bits. `dupes` keeps a pair further
# apart (up to MAX_DISTANCE) for the activity check to judge with a stricter bar
# (`motion_alignment.STILL_APART_CORRELATION`): boxed copies of still windows lie 6-12 bits apart.
STILL_MOTION_BITS, STILL_MAX_DISTANCE = 1.0, 5.0
# A shorter video that moves this much between samples (the median, bits: a music visualizer, a game's
# scrolling screen) is sampled at other instants than the video it copies, up to half the 0.2 s spacing
# off, where the picture is about halfway between two of the other's samples: its frames match within
# FAST_MAX_DISTANCE bits. The colour and detail checks still judge the frames within MAX_DISTANCE where
# there are any. On the footage sets (scripts/bench_dupes.py --footage, all seven), 782 -> 786 of 806
# copies found (intro copies of visualizers and of an animation, 12-16 bits from their originals),
# precision 1.0; the same at 12-24 bits of motion; 16 bits found 2 of those, and 20 bits grouped other
# footage of a looping animation with its copies.
FAST_MOTION_BITS, FAST_MAX_DISTANCE = 20.0, 18
# Seconds from a frame's place in the longer video beyond which its matches count as elsewhere
# (`placement_margin`): past the time tolerance and the slack of a trim.
ELSEWHERE_SECONDS = 2.0
# Two videos are compared only when one frame pair is this close (and shares a 16-bit chunk): a copy
# has many matching frames, one of them this close, while unrelated hashes within MAX_DISTANCE that
# share a chunk (1 in 500 random pairs) would make the candidates grow.
CANDIDATE_DISTANCE = 10
# Seconds between a frame of the shorter video, shifted by the offset, and the frame of the longer
# one it is compared with: keyframes sampled at most once a second (past 30 s) land within half a
# second of any moment; the rest is slack for the offset's own estimate.
TIME_TOLERANCE = 0.6
# Less evidence than this many matching frames, spread over this many seconds of the shorter video,
# or over EVIDENCE_SHARE of its footage when it is shorter, is none: different demo clips of one
# periodic pattern show the same pictures for seconds at a time, and a 2 s sub-clip must still be
# found (scripts/bench_dupes.py).
MIN_MATCHED_FRAMES, MIN_MATCHED_SECONDS = 3, 3.0
EVIDENCE_SHARE = 0.6
# Seconds of the shorter video that may lie before the longer one's start or after its end, at the
# offset: a copy lies within the video it copies (trimmed, or an intro added to the longer one), up to
# where each one's footage is found to start and end (0.8 s apart at most on the real footage's
# tuning part), while two cuts of one clip that only partly overlap are not copies of each other.
MAX_OVERHANG = 1.5
# A chunk value shared by more distinct hashes than this says little (flat, common pictures) and
# would make the candidate pairs grow with its square.
MAX_BUCKET = 256
CHUNKS, CHUNK_BITS = 4, 16
# The offset windows counted exactly: those with nearly as many votes as the best, at most this many
# (a fixed camera's still background votes for every offset of a long video alike).
VOTED_WINDOWS, NEAR_BEST_VOTES = 64, 0.8
PAIR_BLOCK = 1 << 22  # candidate frame pairs whose distance is computed at once (64 MiB of uint64)


@dataclass(frozen=True)
class Fingerprints:
    """One video's hashes (uint64), their times in seconds, in time order, their colour
    signatures (uint64; None when not computed: then any colour agrees) and finer hashes ((n, 4)
    uint64; None when not computed: then the hashes decide alone)."""

    hashes: np.ndarray
    times: np.ndarray
    colours: np.ndarray | None = None
    fine: np.ndarray | None = None

    @property
    def length(self) -> float:
        """The span of its samples: what the evidence a match needs scales with."""
        return float(self.times[-1] - self.times[0]) if len(self.times) else 0.0


@dataclass(frozen=True)
class Containment:
    share: float  # matched / compared: how much of the shorter video the longer one holds
    offset: float  # seconds into the longer video where the shorter one starts
    matched: int  # frames of the shorter video that matched at that offset
    compared: int  # frames of the shorter video that could be compared
    overhang: float = 0.0  # seconds of the shorter video before the longer one's start or after its end
    # A still video whose frames lie further from their matches than STILL_MAX_DISTANCE on average: only
    # where that was allowed (`still_max_distance`), and then its activity must line up with the other's.
    still_apart: bool = False


NO_CONTAINMENT = Containment(0.0, 0.0, 0, 0)


def candidate_pairs(videos: list[Fingerprints], max_distance: int = CANDIDATE_DISTANCE) -> np.ndarray:
    """(n, 2) video index pairs (a < b) with at least one frame pair within `max_distance` bits
    that shares one of the four 16-bit chunks: the pairs worth scoring, found without comparing
    all pairs."""
    owner, hashes = _distinct_hashes(videos)
    if len(hashes) < 2:
        return np.empty((0, 2), np.int64)
    found = []
    for chunk in range(CHUNKS):
        keys = (hashes >> np.uint64(chunk * CHUNK_BITS)) & np.uint64((1 << CHUNK_BITS) - 1)
        for left, right in _bucket_pairs(keys.astype(np.int64)):
            for start in range(0, len(left), PAIR_BLOCK):
                a, b = left[start : start + PAIR_BLOCK], right[start : start + PAIR_BLOCK]
                keep = (owner[a] != owner[b]) & (np.bitwise_count(hashes[a] ^ hashes[b]) <= max_distance)
                first, second = owner[a[keep]], owner[b[keep]]
                found.append(np.minimum(first, second) * len(videos) + np.maximum(first, second))
    if not found:
        return np.empty((0, 2), np.int64)
    codes = np.unique(np.concatenate(found))
    return np.stack([codes // len(videos), codes % len(videos)], axis=1)


def contained_pairs(videos: list[Fingerprints], threshold: float, max_distance: int = MAX_DISTANCE,
                    still_max_distance: float = STILL_MAX_DISTANCE) -> dict[tuple[int, int], Containment]:
    """(a, b) -> how much of video b is contained in video a, for every pair a < b whose share
    reaches `threshold`. Videos come in matching order (most fingerprinted footage first), so b is the possible copy."""
    found = {}
    for a, b in candidate_pairs(videos).tolist():
        scored = containment(videos[b], videos[a], max_distance, still_max_distance=still_max_distance)
        if scored.share >= threshold:
            found[(a, b)] = scored
    return found


def _distinct_hashes(videos: list[Fingerprints]) -> tuple[np.ndarray, np.ndarray]:
    """(video index, hash) of every distinct hash of every video (a still scene counts once)."""
    owner = np.repeat(np.arange(len(videos), dtype=np.int64), [len(v.hashes) for v in videos])
    hashes = np.concatenate([v.hashes for v in videos]) if videos else np.empty(0, np.uint64)
    order = np.lexsort((hashes, owner))
    owner, hashes = owner[order], hashes[order]
    first = np.ones(len(hashes), bool)
    first[1:] = (owner[1:] != owner[:-1]) | (hashes[1:] != hashes[:-1])
    return owner[first], hashes[first]


def _bucket_pairs(keys: np.ndarray):
    """(left, right) positions of every pair of entries sharing a key, bucket size by bucket size
    (a bucket of size s gives its s(s-1)/2 pairs as one array operation)."""
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    sizes = np.diff(np.r_[starts, len(keys)])
    for size in np.unique(sizes[(sizes >= 2) & (sizes <= MAX_BUCKET)]):
        members = order[starts[sizes == size][:, None] + np.arange(size)]
        left, right = np.triu_indices(int(size), k=1)
        yield members[:, left].ravel(), members[:, right].ravel()


def containment(short: Fingerprints, long: Fingerprints, max_distance: int = MAX_DISTANCE,
                tolerance: float = TIME_TOLERANCE, still_max_distance: float = STILL_MAX_DISTANCE) -> Containment:
    """How much of `short` appears in `long` at one consistent time offset.

    Each matching frame pair (within `max_distance` bits; FAST_MAX_DISTANCE where `short` moves fast,
    FAST_MOTION_BITS) votes for the offset between their
    times; the offset with the most distinct matching frames of `short` wins. The share is over
    the frames of `short` that could be compared at that offset: those whose shifted time has a
    frame of `long` within `tolerance` (a long video sampled sparsely, at keyframes, leaves gaps
    that count neither way) and those that fall outside `long` altogether (they count against).
    It is 0 when the matches at the offset differ in colour on average (`MAX_MEAN_GREY_APART`,
    `MAX_MEAN_CHROMA_APART`: another framing of one photo, another colour map, another grade), or
    when more than `MAX_OVERHANG` seconds of `short` lie outside `long` (two cuts that only partly
    overlap are not copies, however much they share), or when `short` holds a still picture whose frames
    lie further than `still_max_distance` bits from their matches on average (STILL_MAX_DISTANCE; past it
    the result says `still_apart`, for the frames' activity to judge). Playing at one speed is assumed:
    trying others found no more copies on the labelled set and twice the look-alikes on the demo corpus.
    """
    if len(short.hashes) == 0 or len(long.hashes) == 0:
        return NO_CONTAINMENT
    motion = motion_bits(short)
    if motion >= FAST_MOTION_BITS:  # sampled between the other's pictures
        max_distance = max(max_distance, FAST_MAX_DISTANCE)
    distance = np.bitwise_count(short.hashes[:, None] ^ long.hashes[None, :])
    rows, cols = np.nonzero(distance <= max_distance)
    if len(np.unique(rows)) < 2:  # one frame is no evidence; see needed_frames below
        return NO_CONTAINMENT
    closeness = (max_distance + 1 - distance[rows, cols]).astype(np.float64) ** 2
    offsets = long.times[cols].astype(np.float64) - short.times[rows]
    voted = _voted_offset(rows, offsets, closeness, tolerance)
    # The offset itself: the closest pairs weigh most (a keyframe-sampled long video pairs each frame
    # with a neighbour up to a second away too, in slow footage).
    near = np.abs(offsets - voted) <= tolerance
    order = np.argsort(offsets[near], kind="stable")
    weights = np.cumsum(closeness[near][order])
    offset = float(offsets[near][order][np.searchsorted(weights, weights[-1] / 2)])
    at_offset = np.abs(offsets - offset) <= tolerance
    shifted = short.times.astype(np.float64) + offset
    long_times = long.times.astype(np.float64)
    outside = (shifted < long_times[0] - tolerance) | (shifted > long_times[-1] + tolerance)
    compared_frames = outside | _partners(shifted, long_times, tolerance)
    agreeing = np.intersect1d(rows[at_offset], np.flatnonzero(compared_frames))
    matched = len(agreeing)
    strict = at_offset & (distance[rows, cols] <= MAX_DISTANCE)
    judged = strict if strict.any() else at_offset  # colours and detail of the surest matches
    closest = _closest_matches(rows[judged], cols[judged], distance[rows, cols][judged])
    same_colours = (short.colours is None or long.colours is None or not matched
                    or _same_colours(short.colours[closest[0]], long.colours[closest[1]]))
    same_detail = short.fine is None or long.fine is None or not matched or _same_detail(short, long, *closest)
    still_distance = _mean_distance(short, long, *closest) if matched and motion <= STILL_MOTION_BITS else 0.0
    close_if_still = still_distance <= still_max_distance
    spread = float(short.times[agreeing[-1]] - short.times[agreeing[0]]) if matched else 0.0
    compared = int(np.count_nonzero(compared_frames))
    overhang = max(0.0, long_times[0] - shifted[0]) + max(0.0, shifted[-1] - long_times[-1])
    # A 2 s sub-clip of a long video sampled once a second has 2 of its 10 frames to compare: when the
    # longer video's sampling leaves fewer than half of them, all those compared may be the evidence
    # (2 at least). A video with few frames of its own (the rest blank or weak) still needs 3.
    sparse = compared < len(short.hashes) / 2
    needed_frames = max(2, min(MIN_MATCHED_FRAMES, compared)) if sparse else MIN_MATCHED_FRAMES
    partners = short.times[compared_frames]
    needed_spread = min(MIN_MATCHED_SECONDS, EVIDENCE_SHARE * short.length,
                        float(partners[-1] - partners[0]) if sparse and compared else np.inf)
    enough = (matched >= needed_frames and spread >= needed_spread
              and overhang <= MAX_OVERHANG and same_colours and same_detail and close_if_still)
    share = matched / compared if enough and compared else 0.0
    return Containment(share, offset, matched, compared, overhang, still_distance > STILL_MAX_DISTANCE)


def _closest_matches(rows: np.ndarray, cols: np.ndarray, distances: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(frames of the shorter video, their closest match by hash in the longer one): of the frame
    pairs matched at the offset (`rows` with `cols`, the hashes `distances` apart), one per frame."""
    order = np.lexsort((distances, rows))
    first = order[np.r_[True, rows[order][1:] != rows[order][:-1]]] if len(rows) else order
    return rows[first], cols[first]


def _partners(shifted: np.ndarray, long_times: np.ndarray, tolerance: float) -> np.ndarray:
    """Which frames of the shorter video (their times `shifted` onto the longer one's) are the nearest
    of its frames to a frame of the longer one, within `tolerance`: those are compared. A long video
    sampled once a second pairs with one in five of a clip's frames; the other four lie up to half a
    second from any of its samples, which in fast motion no longer show its pictures, and counted
    against it they hid sub-clips of fast footage (scripts/bench_dupes.py --footage)."""
    partner = np.zeros(len(shifted), bool)
    if len(shifted) == 0:
        return partner
    after = np.clip(np.searchsorted(shifted, long_times), 1, max(1, len(shifted) - 1))
    before = after - 1
    nearest = np.where(np.abs(shifted[np.minimum(after, len(shifted) - 1)] - long_times)
                       < np.abs(shifted[before] - long_times), np.minimum(after, len(shifted) - 1), before)
    close = np.abs(shifted[nearest] - long_times) <= tolerance
    partner[nearest[close]] = True
    return partner


def motion_bits(video: Fingerprints) -> float:
    """How much it moves: the median of the bits by which its consecutive samples differ."""
    if len(video.hashes) < 2:
        return 0.0
    return float(np.median(np.bitwise_count(video.hashes[1:] ^ video.hashes[:-1])))


def placement_margin(short: Fingerprints, long: Fingerprints, offset: float, tolerance: float = TIME_TOLERANCE,
                     elsewhere: float = ELSEWHERE_SECONDS) -> float | None:
    """How much better `short` matches `long` at `offset` than anywhere else: the median, over its
    frames, of the closest hash distance more than `elsewhere` seconds from its place in `long`, less
    the median of the closest within `tolerance` of it (bits); None when fewer than 3 frames have both.
    Moving footage matches at its place alone; still footage, and other footage of a still scene,
    anywhere alike."""
    distance = np.bitwise_count(short.hashes[:, None] ^ long.hashes[None, :]).astype(np.float64)
    gap = np.abs(long.times[None, :].astype(np.float64) - (short.times[:, None] + offset))
    at_place = np.where(gap <= tolerance, distance, np.inf).min(axis=1)
    away = np.where(gap > elsewhere, distance, np.inf).min(axis=1)
    both = np.isfinite(at_place) & np.isfinite(away)
    if both.sum() < MIN_MATCHED_FRAMES:
        return None
    return float(np.median(away[both]) - np.median(at_place[both]))


def _mean_distance(short: Fingerprints, long: Fingerprints, rows: np.ndarray, cols: np.ndarray) -> float:
    return float(np.bitwise_count(short.hashes[rows] ^ long.hashes[cols]).mean())


def _same_detail(short: Fingerprints, long: Fingerprints, rows: np.ndarray, cols: np.ndarray) -> bool:
    """Whether frames `rows` of `short` and their closest matches `cols` in `long` differ in their finer
    hashes no more than their hashes' distance explains, on average (MAX_FINE_EXCESS)."""
    fine = fine_distance(short.fine[rows], long.fine[cols]).mean()
    coarse = np.bitwise_count(short.hashes[rows] ^ long.hashes[cols]).mean()
    return bool(fine - FINE_PER_HASH_BIT * coarse <= MAX_FINE_EXCESS)


def _same_colours(short: np.ndarray, long: np.ndarray) -> bool:
    """Whether frames of the shorter video (their colour signatures `short`) show the same colours
    as their closest matches (`long`) on average (MAX_MEAN_GREY_APART, MAX_MEAN_CHROMA_APART)."""
    grey_apart, chroma_apart = colour_apart(short, long)
    return bool(grey_apart.mean() <= MAX_MEAN_GREY_APART and chroma_apart.mean() <= MAX_MEAN_CHROMA_APART)


def _voted_offset(rows: np.ndarray, offsets: np.ndarray, closeness: np.ndarray, tolerance: float) -> float:
    """The offset that the most distinct frames of the shorter video agree on (within
    `tolerance`): votes in bins of `tolerance`, windows of two bins, the best few windows
    counted exactly, and the median of the winner's offsets. Among windows that as many frames
    agree on (a still background matches anywhere in a fixed-camera video), the closest matches
    decide: each frame's closest pair, summed."""
    bins = np.floor(offsets / tolerance).astype(np.int64)
    low = bins.min()
    votes = np.unique(np.stack([bins - low, rows]), axis=1)  # one vote per frame per bin
    per_bin = np.bincount(votes[0])
    windows = per_bin + np.r_[per_bin[1:], 0]
    # Pairs by frame of the shorter video, closest first: the first pair of a frame inside a window
    # is its closest there.
    by_frame = np.lexsort((-closeness, rows))
    rows, offsets, closeness = rows[by_frame], offsets[by_frame], closeness[by_frame]
    bins = bins[by_frame]
    best, best_offset = (-1, 0.0), 0.0
    for window in np.argsort(-windows, kind="stable")[:VOTED_WINDOWS]:
        if windows[window] < NEAR_BEST_VOTES * windows.max():
            break
        inside = (bins - low >= window) & (bins - low <= window + 1)
        centre = float(np.median(offsets[inside]))
        near = np.abs(offsets - centre) <= tolerance
        frames = rows[near]
        first = np.r_[True, frames[1:] != frames[:-1]]
        score = (int(first.sum()), float(closeness[near][first].sum()))
        if score > best:
            best, best_offset = score, centre
    return best_offset
