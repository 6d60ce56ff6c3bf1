"""Groups of duplicate videos a user can act on: which to keep, why each other one is a copy.

Three modes say what counts as a duplicate:

- `exact`: the same bytes (content hash).
- `near` (the default): the same pictures, by perceptual fingerprints (`fingerprint_match`):
  re-encodes, resizes, crops, letterboxes, trims, and sub-clips found inside a longer video at
  their offset. The score is the share of the shorter video's frames found in the longer one.
- `similar`: the same scene by CLIP frame vectors (`visual`), looser: also a scene shot again.

Groups never chain: each forms around an anchor, the video not yet in a group that most others not
yet in a group match, and takes every one of those that scores at least the threshold against it
and is no longer than it (two cuts that both hold one clip are not copies of each other).
Its keeper is its best copy (most seconds of footage, then most picture pixels once bars are
cropped, then highest bit rate; `keeper_ranking`). Every member's score is its score against its
keeper, or against the anchor where it matched the anchor alone, so none is shown below the
threshold. Identical copies always join their original's group.
"""

from __future__ import annotations

import heapq
import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from vindex.defaults import DUPLICATE_MODE, DUPLICATE_MODES, DUPLICATE_THRESHOLDS
from vindex.duplicates import fingerprint_match, motion_alignment, visual
from vindex.embedding.spec import random_weights_warning
from vindex.errors import VindexError
from vindex.fingerprints import RULES_VERSION
from vindex.footage import HELD_BITS
from vindex.locations import join_root, shown_path
from vindex.results import Result, plain
from vindex.search import channel_ids
from vindex.store import DuplicateCandidate, Store

# A member shorter than its keeper by more than this (seconds, or share of the keeper's length)
# is a trim or a sub-clip rather than a re-encode of the whole.
SHORTER_SECONDS, SHORTER_SHARE = 1.0, 0.05
# Aspect ratios (width / height) further apart than this mean a crop or added bars.
ASPECT_TOLERANCE = 0.03
# Seconds of footage this close (or this share of the longer) count as equal: copies of one original
# measure a little apart (their samples fall on other frames), and the picture should decide.
CONTENT_TOLERANCE, CONTENT_TOLERANCE_SHARE = 0.5, 0.1
# Picture pixels are compared in steps of this ratio: the bars found on a 64x64 grey square are a
# row or two off from copy to copy, and the bit rate should decide between equal pictures.
PIXELS_STEP = 1.1


@dataclass
class Duplicate(Result):
    path: str
    file: str
    channel: str
    size: int | None
    duration: float | None
    width: int | None
    height: int | None
    video_id: str
    score: float  # against the group's keeper: 1.0 for the keeper and for identical copies
    reason: str  # why it is a copy of the keeper ("keeper" for the keeper itself)
    offset: float | None = None  # near mode: seconds into the keeper where this video starts
    visual: float | None = None  # near mode: CLIP frame containment in the keeper, a second opinion


@dataclass
class DuplicateGroup(Result):
    """Videos showing the same footage, the keeper first."""

    videos: list[Duplicate]

    @property
    def keeper(self) -> Duplicate:
        return self.videos[0]

    @property
    def reclaimable_bytes(self) -> int:
        return sum(video.size or 0 for video in self.videos[1:])

    def to_dict(self) -> dict:
        return dict(keeper=plain(self.keeper.path), reclaimable_bytes=self.reclaimable_bytes, **super().to_dict())


@dataclass
class DuplicateReport(Result):
    """The groups of one `dupes` run, those that free the most bytes first. Iterating yields them."""

    mode: str
    threshold: float | None  # None in exact mode
    groups: list[DuplicateGroup]
    compared: int  # videos compared
    warnings: list[str] = field(default_factory=list)

    def __iter__(self) -> Iterator[DuplicateGroup]:
        return iter(self.groups)

    def __len__(self) -> int:
        return len(self.groups)

    def __getitem__(self, position: int) -> DuplicateGroup:
        return self.groups[position]

    @property
    def reclaimable_bytes(self) -> int:
        return sum(group.reclaimable_bytes for group in self.groups)

    def to_dict(self) -> dict:
        return dict(super().to_dict(), reclaimable_bytes=self.reclaimable_bytes)


def find_duplicates(store: Store, mode: str = DUPLICATE_MODE, threshold: float | None = None,
                    channels: tuple[str, ...] = (), where: str | None = None) -> DuplicateReport:
    """Groups of duplicate videos among those of `channels` (all when empty) that pass `where`
    (an SQL filter on the videos table); `threshold` defaults to the mode's
    (`defaults.DUPLICATE_THRESHOLDS`) and means nothing in exact mode."""
    store.require_videos()
    if mode not in DUPLICATE_MODES:
        raise VindexError(f"unknown duplicate mode {mode!r}: choose one of {', '.join(DUPLICATE_MODES)}")
    threshold = None if mode == "exact" else DUPLICATE_THRESHOLDS[mode] if threshold is None else threshold
    if threshold is not None and not 0.0 < threshold <= 1.0:
        raise VindexError("--threshold is a score: above 0 and at most 1")
    rows = _catalog(store, channels, where, fingerprints=mode == "near")
    copies: dict[str, list[int]] = defaultdict(list)  # content -> rows, keeper order
    for position in keeper_ranking(rows):
        copies[rows[position].content_hash or rows[position].id].append(position)
    contents = list(copies.values())  # one entry per content, in keeper order (dicts keep insertion)
    warnings: list[str] = []
    mutual: set[tuple[int, int]] = set()
    if mode == "near":
        scores, mutual = _near_scores(rows, contents, threshold, warnings, store.meta.root or "")
    elif mode == "similar":
        untrained = random_weights_warning(store.meta.weights, "similar-mode groups")
        warnings += [untrained] if untrained else []
        frames = visual.frame_vectors(store, [rows[same[0]].id for same in contents], bool(channels or where))
        scores = {(a, b): (round(score, 6), None) for a, b in visual.candidate_pairs(frames, threshold)
                  if (score := visual.contained(frames[b], frames[a])) >= threshold}
    else:
        scores = {}
    groups = []
    # Similar mode's scores (CLIP frames) match looser, whole libraries alike on a random-weight model:
    # its groups keep forming around the best copy, of those that match it.
    starts = [_footage_start(rows[same[0]]) for same in contents]
    for members, anchor in _anchored_groups(len(contents), scores, mutual, most_matched=mode == "near"):
        members = _unpadded_first(members, scores, starts)
        groups.append(_group(rows, [contents[k] for k in members],
                             [_shown_score(scores, members[0], anchor, k) for k in members], mode, store.meta.root or ""))
    groups = [group for group in groups if len(group.videos) > 1]
    groups.sort(key=lambda g: (-g.reclaimable_bytes, g.keeper.path))
    if mode == "near" and groups:
        _add_visual_scores(store, groups)
    return DuplicateReport(mode, threshold, groups, len(rows), warnings)


def keeper_ranking(rows: list[DuplicateCandidate]) -> list[int]:
    """Positions of `rows`, the best copy first: most seconds of footage (blank stretches, title
    cards and frozen ends do not count; seconds within the tolerance of the longest of a tier are
    one tier), then most picture pixels once bars are cropped, then highest bit rate, then path
    (stable output). Rows fingerprinted before these were stored count their whole length and frame."""
    seconds = [row.content_seconds if row.content_seconds is not None else row.duration or 0.0 for row in rows]
    tiers, tier, start = [0] * len(rows), -1, 0.0
    for position in sorted(range(len(rows)), key=lambda p: -seconds[p]):
        if tier < 0 or seconds[position] < start - max(CONTENT_TOLERANCE, CONTENT_TOLERANCE_SHARE * start):
            tier, start = tier + 1, seconds[position]
        tiers[position] = tier
    return sorted(range(len(rows)), key=lambda p: (tiers[p], *_picture_order(rows[p])))


def _picture_order(row: DuplicateCandidate) -> tuple:
    width = row.picture_width if row.picture_width is not None else row.width or 0
    height = row.picture_height if row.picture_height is not None else row.height or 0
    pixels = round(math.log(width * height) / math.log(PIXELS_STEP)) if width and height else 0
    bitrate = (row.size or 0) / row.duration if row.duration else 0.0
    return (-pixels, -round(bitrate), row.path)


def _catalog(store: Store, channels: tuple[str, ...], where: str | None,
             fingerprints: bool) -> list[DuplicateCandidate]:
    """The videos compared: all, or those of `channels` (which must exist) that pass `where`."""
    if channels:
        channel_ids(store, channels)
    return store.duplicate_candidates(where, channels, fingerprints)


def _near_scores(rows: list[DuplicateCandidate], contents: list[list[int]], threshold: float,
                 warnings: list[str], root: str) -> tuple[dict[tuple[int, int], tuple[float, float | None]],
                                                      set[tuple[int, int]]]:
    """(keeper-side content, member-side content) -> (containment share, offset) for the pairs of
    contents whose fingerprint containment reaches `threshold` (and, for slow footage, whose changes
    line up: `motion_alignment.SlowFootageCheck`), and those of the pairs whose keeper side is contained in the member
    side too (each is a copy of the other, not a part of it)."""
    missing = sum(row.fingerprints is None for row in rows)
    if missing:
        warnings.append(f"{missing} of {len(rows)} videos have no fingerprints yet (indexed by an older vindex): "
                        "run `vindex add` on their folder to compute them; until then they match identical copies only")
    outdated = sum(row.fingerprints is not None and (row.fingerprint_rules or 0) < RULES_VERSION for row in rows)
    if outdated:
        warnings.append(f"{outdated} of {len(rows)} videos have fingerprints made by an older vindex's rules: run "
                        "`vindex add` on their folder to make them again (decoding, not re-embedding); "
                        "until then some of their copies may be missed")
    # The evidence a match needs scales with the span of the fingerprints compared, not with the seconds
    # of footage (which count samples whose hash is too weak to be fingerprinted).
    fingerprints = [fingerprint_match.Fingerprints(rows[same[0]].fingerprints, rows[same[0]].fingerprint_times,
                                                   rows[same[0]].fingerprint_colours, rows[same[0]].fingerprint_fine)
                    if rows[same[0]].fingerprints is not None else
                    fingerprint_match.Fingerprints(np.empty(0, np.uint64), np.empty(0)) for same in contents]
    contained = fingerprint_match.contained_pairs(fingerprints, threshold)
    paths = [join_root(root, rows[same[0]].path) for same in contents]
    slow_footage = motion_alignment.SlowFootageCheck(fingerprints, paths, warnings)
    scores = {pair: (round(found.share, 6), round(offset, 2)) for pair, found in contained.items()
              if (offset := slow_footage.offset(pair, found.offset)) is not None}
    mutual = {(a, b) for a, b in scores if fingerprint_match.containment(fingerprints[a], fingerprints[b]).share >= threshold}
    return scores, mutual


def _add_visual_scores(store: Store, groups: list[DuplicateGroup]) -> None:
    """Near mode shows the CLIP frames' view beside the fingerprints': each member's visual
    containment in its keeper (as similar mode scores it), a second opinion for the user."""
    ids = list({video.video_id for group in groups for video in group.videos})
    frames = dict(zip(ids, visual.frame_vectors(store, ids, subset=True)))
    for group in groups:
        keeper = frames[group.keeper.video_id]
        for video in group.videos:
            video.visual = round(visual.contained(frames[video.video_id], keeper), 6)


def _footage_start(row: DuplicateCandidate) -> float | None:
    """Seconds into the video where its footage starts (its first fingerprint: blank frames and a title
    card are never fingerprinted); None without fingerprints. A held picture that cuts to another
    (no match for the picture after it: a title card) is no footage either: the fingerprints keep one
    where too little footage follows it to be sure at `add` (`vindex.footage.content`: a title
    card before a terminal recording that is blank but for its last 2 s), and its copy was kept over
    the original (the sixth footage check)."""
    times, hashes = row.fingerprint_times, row.fingerprints
    if times is None or not len(times):
        return None
    still = np.bitwise_count(hashes ^ hashes[0]) <= HELD_BITS
    run = int(np.cumprod(still).sum())
    if run < len(hashes) and int(np.bitwise_count(hashes[run] ^ hashes[run - 1])) > fingerprint_match.MAX_DISTANCE:
        return float(times[run])
    return float(times[0])


def _unpadded_first(members: list[int], scores: dict[tuple[int, int], tuple], starts: list[float | None]) -> list[int]:
    """`members` (content positions in keeper order) with the first that is not padded first: its keeper.
    A copy with a black or title intro measures as much footage as its original, or more where its
    footage's seconds are measured apart (a mostly still recording whose still ends are frozen ends in
    one copy and not in the other; docs/search.md, the last check), and must never be kept over it."""
    for position in members:
        if not any(_padded(position, other, scores, starts) for other in members if other != position):
            return [position, *(other for other in members if other != position)]
    return members


def _padded(video: int, other: int, scores: dict[tuple[int, int], tuple], starts: list[float | None]) -> bool:
    """Whether `video` holds `other` behind a head of SHORTER_SECONDS or more that is no footage:
    `other` starts that far into it (their containment's offset, either way round), and `video`'s own
    footage (`starts`) starts no more than half a second before that (a black intro, a title card;
    a longer original has footage there)."""
    if starts[video] is None:
        return False
    if (video, other) in scores:  # other lies in video, starting offset seconds into it
        shift = scores[(video, other)][1]
    elif (other, video) in scores and scores[(other, video)][1] is not None:  # video lies in other
        shift = -scores[(other, video)][1]
    else:
        return False
    return shift is not None and shift >= SHORTER_SECONDS and starts[video] >= shift - 0.5


def _shown_score(scores: dict[tuple[int, int], tuple], keeper: int, anchor: int, member: int) -> tuple | None:
    """A member's (score, offset) against its keeper (the first of its group: `_unpadded_first`), or
    against the group's anchor where it matched the anchor alone (then no offset: it is not one into
    the keeper); None for the keeper."""
    if member == keeper:
        return None
    if (keeper, member) in scores:
        return scores[(keeper, member)]
    if (member, keeper) in scores:  # the keeper lies in this member: a copy with an intro, say
        score, offset = scores[(member, keeper)]
        return score, None if offset is None else round(-offset, 2)
    score, _ = scores[(min(anchor, member), max(anchor, member))]
    return score, None


def _anchored_groups(count: int, scores: dict[tuple[int, int], tuple], mutual: set[tuple[int, int]],
                     most_matched: bool = True) -> list[tuple[list[int], int]]:
    """Content positions (in keeper order) grouped without chaining: ([keeper, members...], anchor)
    per group. `scores` holds the pairs (a, b) where b is contained in a, `mutual` those where a is
    contained in b too.

    Each group forms around an anchor: of the contents not yet in a group, the one that the most
    others not yet in a group can join (the earliest in keeper order among equals), with all of
    them. A video joins an anchor it is contained in (a copy, a trim, a sub-clip of it) or that is
    contained in it both ways (a copy with an intro), never one that is only a part of it: two cuts
    that both hold one clip are not copies of each other. The keeper is then the group's first in
    keeper order, which need not be the anchor: a copy that bars or an intro set apart from others
    (a pillarboxed one that the intro copies do not match) no longer splits the group, though the
    rule may still keep it. Without `most_matched` the anchor is the first in keeper order."""
    joiners: dict[int, set[int]] = defaultdict(set)
    for a, b in scores:  # b is contained in a, a first in keeper order
        joiners[a].add(b)
        if (a, b) in mutual:  # each is a copy of the other
            joiners[b].add(a)
    taken = [False] * count
    groups = []

    def take(anchor: int) -> None:
        members = sorted([anchor, *(b for b in joiners[anchor] if not taken[b])])
        for position in members:
            taken[position] = True
        groups.append((members, anchor))

    def free_joiners(position: int) -> int:
        return sum(not taken[b] for b in joiners[position])

    if most_matched:
        # The most-joined free anchor first, from a heap of counts that are refreshed when popped:
        # counts only fall as videos are taken, so an entry whose count is still true is the
        # largest (ties: the earliest). A scan of every free video per group was quadratic.
        heap = [(-len(joiners[position]), position) for position in joiners]
        heapq.heapify(heap)
        while heap:
            stored, anchor = heapq.heappop(heap)
            if taken[anchor]:
                continue
            now = free_joiners(anchor)
            if -stored != now:
                heapq.heappush(heap, (-now, anchor))
                continue
            if now == 0:
                break  # every free video left stands alone
            take(anchor)
    for position in range(count):  # in keeper order: the rest, as anchors of what they still hold
        if not taken[position]:
            take(position)
    return groups


def _group(rows: list[DuplicateCandidate], contents: list[list[int]], scores: list[tuple | None], mode: str,
           root: str) -> DuplicateGroup:
    keeper = rows[contents[0][0]]
    videos = []
    for same, found in zip(contents, scores):
        score, offset = found or (1.0, None)
        for position in same:
            row = rows[position]
            if row is keeper:
                reason = "keeper"
            elif same is contents[0]:
                reason, offset = "identical bytes", None
            else:
                reason = _reason(row, keeper, mode, offset)
            videos.append(Duplicate(shown_path(row.path), join_root(root, row.path), row.channel, row.size,
                                    row.duration, row.width, row.height, row.id,
                                    1.0 if row is keeper else score, reason, offset))
    return DuplicateGroup(videos)


def _reason(row: DuplicateCandidate, keeper: DuplicateCandidate, mode: str, offset: float | None) -> str:
    """What a user can act on: how this video differs from the keeper it copies."""
    if mode == "similar":
        return "similar scene"
    parts = []
    length, keeper_length = row.duration or 0.0, keeper.duration or 0.0
    if keeper_length - length > max(SHORTER_SECONDS, SHORTER_SHARE * keeper_length):
        parts.append(f"contained at {clock(offset)}" if offset and offset >= SHORTER_SECONDS else "trimmed")
    elif offset is not None and offset <= -SHORTER_SECONDS:
        parts.append(f"padded: its footage starts at {clock(-offset)}")
    if row.width and row.height and keeper.width and keeper.height:
        aspect, keeper_aspect = row.width / row.height, keeper.width / keeper.height
        if abs(aspect / keeper_aspect - 1) > ASPECT_TOLERANCE:
            parts.append("cropped or letterboxed")
        elif (row.width, row.height) != (keeper.width, keeper.height):
            parts.append("resized")
    return ", ".join(parts) or "re-encode"


def clock(seconds: float | None) -> str:
    """2:31, or 1:02:31 past an hour."""
    whole = int(round(seconds or 0.0))
    hours, rest = divmod(whole, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"
