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
cropped, then highest bit rate), never one padded by an intro (`keeper`). Every member's score is
its score against its keeper, or against the anchor where it matched the anchor alone, so none is
shown below the threshold. Identical copies always join their original's group.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from vindex.defaults import DUPLICATE_MODE, DUPLICATE_MODES, DUPLICATE_THRESHOLDS
from vindex.duplicates import fingerprint_match, motion_alignment, visual
from vindex.duplicates.keeper import (SHORTER_SECONDS, SHORTER_SHARE, footage_tiers, group_ranking, keeper_first,
                                      matching_order)
from vindex.embedding.spec import random_weights_warning
from vindex.errors import VindexError
from vindex.fingerprints import RULES_VERSION
from vindex.locations import join_root, shown_path
from vindex.results import Result, plain
from vindex.search import channel_ids
from vindex.store import DuplicateCandidate, Store

# Aspect ratios (width / height) further apart than this mean a crop or added bars.
ASPECT_TOLERANCE = 0.03
# A member shorter than its keeper by more than this (seconds) is trimmed, though by less than
# SHORTER_SECONDS: on the footage sets (scripts/bench_dupes.py --footage) whole copies last within 0.04 s
# of their original, copies trimmed at both ends 0.30 s to 1.9 s less. A user deleting a `re-encode`
# deletes nothing the keeper lacks; one told `trimmed` knows the keeper holds more.
TRIMMED_SECONDS = 0.25


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
    copies: dict[str, list[int]] = defaultdict(list)  # content -> rows, matching order
    for position in matching_order(rows):
        copies[rows[position].content_hash or rows[position].id].append(position)
    contents = list(copies.values())  # one entry per content, in matching order (dicts keep insertion)
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
    firsts = [rows[same[0]] for same in contents]
    tiers = footage_tiers(firsts)
    for members, anchor in _anchored_groups(len(contents), scores, mutual, most_matched=mode == "near"):
        members = keeper_first(group_ranking(firsts, members, tiers), scores, firsts)
        groups.append(_group(rows, [contents[k] for k in members],
                             [_shown_score(scores, members[0], anchor, k) for k in members], mode, store.meta.root or ""))
    groups = [group for group in groups if len(group.videos) > 1]
    groups.sort(key=lambda g: (-g.reclaimable_bytes, g.keeper.path))
    if mode == "near" and groups:
        _add_visual_scores(store, groups)
    return DuplicateReport(mode, threshold, groups, len(rows), warnings)


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
    # Still pictures further apart than a still copy's are kept for their activity to judge.
    contained = fingerprint_match.contained_pairs(fingerprints, threshold,
                                                  still_max_distance=fingerprint_match.MAX_DISTANCE)
    paths = [join_root(root, rows[same[0]].path) for same in contents]
    slow_footage = motion_alignment.SlowFootageCheck(fingerprints, paths, warnings)
    scores = {pair: (round(found.share, 6), round(offset, 2)) for pair, found in contained.items()
              if (offset := slow_footage.offset(pair, found)) is not None}
    mutual = {(a, b) for a, b in scores if _contains_too(fingerprints, (a, b), threshold, slow_footage)}
    return scores, mutual


def _contains_too(fingerprints: list[fingerprint_match.Fingerprints], pair: tuple[int, int], threshold: float,
                  slow_footage: motion_alignment.SlowFootageCheck) -> bool:
    """Whether the first of a contained `pair` lies in the second too (each is a copy of the other), by
    the rules that placed the second in the first: a boxed copy of a still window, whose pictures lie
    further from its original's than a still copy's, holds it only where their changes line up."""
    container, contained = pair
    found = fingerprint_match.containment(fingerprints[container], fingerprints[contained],
                                          still_max_distance=fingerprint_match.MAX_DISTANCE)
    return found.share >= threshold and (not found.still_apart
                                         or slow_footage.offset((contained, container), found) is not None)


def _add_visual_scores(store: Store, groups: list[DuplicateGroup]) -> None:
    """Near mode shows the CLIP frames' view beside the fingerprints': each member's visual
    containment in its keeper (as similar mode scores it), a second opinion for the user."""
    ids = list({video.video_id for group in groups for video in group.videos})
    frames = dict(zip(ids, visual.frame_vectors(store, ids, subset=True)))
    for group in groups:
        keeper = frames[group.keeper.video_id]
        for video in group.videos:
            video.visual = round(visual.contained(frames[video.video_id], keeper), 6)


def _shown_score(scores: dict[tuple[int, int], tuple], keeper: int, anchor: int, member: int) -> tuple | None:
    """A member's (score, offset) against its keeper (the first of its group: `keeper.keeper_first`), or
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
    """Content positions (in matching order: `keeper.matching_order`) grouped without chaining:
    ([first, members...], anchor) per group. `scores` holds the pairs (a, b) where b is contained in a,
    `mutual` those where a is contained in b too.

    Each group forms around an anchor: of the contents not yet in a group, the one that the most
    others not yet in a group can join (the earliest in matching order among equals), with all of
    them. A video joins an anchor it is contained in (a copy, a trim, a sub-clip of it) or that is
    contained in it both ways (a copy with an intro), never one that is only a part of it: two cuts
    that both hold one clip are not copies of each other. The keeper is then chosen among the group
    (`group_ranking`, `keeper_first`), and need not be the anchor: a copy that bars or an intro set
    apart from others (a pillarboxed one that the intro copies do not match) no longer splits the group,
    though the rule may still keep it. Without `most_matched` the anchor is the first in matching order."""
    joiners: dict[int, set[int]] = defaultdict(set)
    for a, b in scores:  # b is contained in a, a first in matching order
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
    for position in range(count):  # in matching order: the rest, as anchors of what they still hold
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
    elif keeper_length - length > TRIMMED_SECONDS:
        parts.append("trimmed")
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
