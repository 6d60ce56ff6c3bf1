"""Which of a group of duplicates to keep: its best copy, never one padded by an intro.

Two orders of the videos compared. `matching_order` is the order containment is tried in (a later video
in an earlier one): most seconds of fingerprinted footage first. `group_ranking` is the best copy first:
most seconds of footage a user would miss (`vindex.footage.footage`), then most picture pixels once bars
are cropped, then highest bit rate. Within a group, `keeper_first` keeps the best copy that is not padded
by a black or title intro (`_padded`), or a copy that holds it and more (`_holds_more`): an original over
its copy trimmed into a held first second, which measured as much footage as the original.
"""

from __future__ import annotations

import math

from vindex.duplicates import fingerprint_match
from vindex.fingerprints import distance, from_stored
from vindex.store import DuplicateCandidate

# A member shorter than its keeper by more than this (seconds, or share of the keeper's length)
# is a trim or a sub-clip rather than a re-encode of the whole; a head this long is an intro.
SHORTER_SECONDS, SHORTER_SHARE = 1.0, 0.05
# Seconds of footage this close (or this share of the longer) count as equal: copies of one original
# measure a little apart (their samples fall on other frames), and the picture should decide.
CONTENT_TOLERANCE, CONTENT_TOLERANCE_SHARE = 0.5, 0.1
# Seconds by which one copy's span must pass another's (its offset in it, their lengths) to hold more than
# it: the offsets of matched fingerprints are a sample or so off (0.2 s), lengths a frame.
SPAN_SLACK = 0.25
# Picture pixels within this ratio of the most count as equal: the bars found on a 64x64 grey square are a
# row or two off from copy to copy (a letterboxed copy of a 518x646 window measured 518x658), and the bit
# rate should decide between equal pictures. Rounded into fixed steps instead, two pictures 2 % apart fell
# on either side of a step, and a boxed copy was kept over its original (the footage sets' pillarbox keepers).
PIXELS_STEP = 1.1


def footage_tiers(rows: list[DuplicateCandidate]) -> list[int]:
    """Per row, its tier of footage: most seconds of footage a user would miss first (blank stretches and
    title cards do not count, a still opening does: `vindex.footage.footage`; seconds within the tolerance
    of the longest of a tier are one tier). Rows fingerprinted by older rules count their fingerprinted
    seconds, or their whole length before those were stored."""
    seconds = [row.footage_seconds if row.footage_seconds is not None else _content_seconds(row) for row in rows]
    return _tiers(seconds, lambda most: max(CONTENT_TOLERANCE, CONTENT_TOLERANCE_SHARE * most))


def group_ranking(rows: list[DuplicateCandidate], members: list[int], tiers: list[int]) -> list[int]:
    """`members` (positions of `rows`), the best copy first: the lowest footage tier (`footage_tiers`),
    then most picture pixels once bars are cropped (within PIXELS_STEP of the most among the members of
    that tier are one tier: anchored on the group's own pictures, never on another video of the index),
    then highest bit rate, then path (stable output)."""
    picture_tiers = {}
    for tier in {tiers[p] for p in members}:
        level = [p for p in members if tiers[p] == tier]
        pixels = [_picture_pixels(rows[p]) for p in level]
        picture_tiers.update(zip(level, _tiers(pixels, lambda most: most - most / PIXELS_STEP)))
    return sorted(members, key=lambda p: (tiers[p], picture_tiers[p], -round(_bitrate(rows[p])), rows[p].path))


def matching_order(rows: list[DuplicateCandidate]) -> list[int]:
    """Positions of `rows` in the order containment is tried (a later video in an earlier one): most
    seconds of fingerprinted footage first (held ends left out: `vindex.footage.content`), then more
    picture pixels in steps of PIXELS_STEP, then highest bit rate. A still opening counted here put an
    original before its trimmed copies whose fingerprints span more, and their containment went unchecked
    (docs/search.md). The keeper's order (`group_ranking`) is not this one: which videos a group holds
    was measured in this order."""
    tiers = _tiers([_content_seconds(row) for row in rows],
                   lambda most: max(CONTENT_TOLERANCE, CONTENT_TOLERANCE_SHARE * most))
    return sorted(range(len(rows)), key=lambda p: (tiers[p], *_picture_steps(rows[p])))


def _content_seconds(row: DuplicateCandidate) -> float:
    return row.content_seconds if row.content_seconds is not None else row.duration or 0.0


def _tiers(values: list[float], tolerance) -> list[int]:
    """Per value, its tier: the largest value opens tier 0, which takes every value within
    `tolerance(largest)` of it; the largest of the rest opens the next, and so on."""
    tiers, tier, start = [0] * len(values), -1, 0.0
    for position in sorted(range(len(values)), key=lambda p: -values[p]):
        if tier < 0 or values[position] < start - tolerance(start):
            tier, start = tier + 1, values[position]
        tiers[position] = tier
    return tiers


def _picture_pixels(row: DuplicateCandidate) -> float:
    width = row.picture_width if row.picture_width is not None else row.width or 0
    height = row.picture_height if row.picture_height is not None else row.height or 0
    return float(width * height)


def _bitrate(row: DuplicateCandidate) -> float:
    return (row.size or 0) / row.duration if row.duration else 0.0


def _picture_steps(row: DuplicateCandidate) -> tuple:
    pixels = _picture_pixels(row)
    steps = round(math.log(pixels) / math.log(PIXELS_STEP)) if pixels else 0
    return (-steps, -round(_bitrate(row)), row.path)


def _footage_start(row: DuplicateCandidate, other: DuplicateCandidate) -> float | None:
    """Seconds into `row` where footage starts that `other` may lack: after blank frames and a title
    card (`vindex.footage.footage_start`), or at its first picture where `other` opens on that picture
    too (a held opening that a trimmed copy holds less of is no title card); for rows fingerprinted by
    older rules, its first fingerprint; None without either."""
    if row.footage_start is None:
        times = row.fingerprint_times
        return float(times[0]) if times is not None and len(times) else None
    if (row.first_picture is not None and other.first_picture is not None
            and int(distance(from_stored([row.first_picture]), from_stored([other.first_picture]))[0])
            <= fingerprint_match.MAX_DISTANCE):
        return row.first_picture_time
    return row.footage_start


def keeper_first(members: list[int], scores: dict[tuple[int, int], tuple],
                 firsts: list[DuplicateCandidate]) -> list[int]:
    """`members` (content positions, best copy first: `group_ranking`) with their keeper first: the
    first that is not padded (`_padded`), or a copy not padded that holds it and more (`_holds_more`).
    A copy with a black or title intro measures as much footage as its original, or more where its
    footage's seconds are measured apart (a mostly still recording whose still ends are frozen ends in
    one copy and not in the other; docs/search.md, the last check), and must never be kept over it; an
    original must not lose to its trimmed copy that measured as much, its first held second uncounted."""
    free = [position for position in members
            if not any(_padded(position, other, scores, firsts) for other in members if other != position)]
    if not free:
        return members
    keeper = free[0]
    for _ in free:  # each step holds strictly more: at most one per copy
        larger = next((position for position in free if _holds_more(position, keeper, scores, firsts)), None)
        if larger is None:
            break
        keeper = larger
    return [keeper, *(other for other in members if other != keeper)]


def _shift(video: int, other: int, scores: dict[tuple[int, int], tuple]) -> float | None:
    """Seconds into `video` where `other` starts (their containment's offset, either way round)."""
    if (video, other) in scores:  # other lies in video
        return scores[(video, other)][1]
    if (other, video) in scores and scores[(other, video)][1] is not None:  # video lies in other
        return -scores[(other, video)][1]
    return None


def _padded(video: int, other: int, scores: dict[tuple[int, int], tuple], firsts: list[DuplicateCandidate]) -> bool:
    """Whether `video` holds `other` behind a head of SHORTER_SECONDS or more that is no footage, and
    nothing after it: `other` starts that far into it, `video`'s own footage (`_footage_start`) starts
    no more than half a second before that (a black intro, a title card; a longer original has footage
    there), and `video` ends where `other` does (a trimmed copy ends before its original)."""
    shift = _shift(video, other, scores)
    start = _footage_start(firsts[video], firsts[other])
    if shift is None or shift < SHORTER_SECONDS or start is None or start < shift - 0.5:
        return False
    ends = firsts[video].duration, firsts[other].duration
    return not (all(ends) and ends[0] - (shift + ends[1]) > SPAN_SLACK)


def _holds_more(video: int, other: int, scores: dict[tuple[int, int], tuple], firsts: list[DuplicateCandidate]) -> bool:
    """Whether `video` holds all of `other` (its offset in it) and more than SPAN_SLACK of pictures before
    or after it: an original over its copy trimmed at either end, whatever their seconds of footage."""
    shift = _shift(video, other, scores)
    length, other_length = firsts[video].duration, firsts[other].duration
    if shift is None or not (length and other_length) or shift < -SPAN_SLACK:
        return False
    after = length - (shift + other_length)
    if after < -SPAN_SLACK:
        return False
    first = firsts[video].first_picture_time
    before = shift - (first if first is not None else 0.0)
    return before > SPAN_SLACK or after > SPAN_SLACK
