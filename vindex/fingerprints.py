"""Perceptual fingerprints of frames: a 64-bit DCT hash per grey frame, and a blank flag.

The hash is pHash's (as `imagehash.phash` computes it): the grey picture shrunk to 32x32, its
2-D DCT, the 8x8 lowest frequencies, one bit per coefficient above their median, the first
coefficient as the most significant bit. Two differences, both for video: bars (letterbox,
pillarbox: flat, near-black border rows and columns) are cropped first, so a letterboxed copy hashes
like the original; and a whole batch is hashed at once with matrix products, no Python loop.

Frames arrive as small grey squares (`vindex.sample_pictures`: reformatted by swscale while decoding, aspect
ratio ignored as pHash ignores it). Shrinking the crop to 32x32 (box filter) and the DCT are both
linear, so each frame's 8x8 coefficients are one product `A @ grey @ B.T` with `A` and `B` built
from its crop: 8x64 matrices instead of a 32x32 intermediate.

The hash keeps only which of its coefficients are above their median: two pictures of one pattern
in two palettes or brightnesses (a fractal zoom in two colour maps) hash alike. Each sample also
gets a colour signature (`colour_signatures`): the mean grey level of each quarter of the cropped
picture and the mean chroma (U and V, from the decoder's own 4:2:0 planes, shrunk) of
its top and bottom halves, eight signed bytes packed in a uint64; two samples show the same picture
only when these agree too (`colour_apart`). And each sample gets a finer hash (`FINE_SIDE`): the
signs about their median of the 16x16 lowest frequencies of the same shrunk, cropped picture, 256
bits as four uint64, which tell apart what the 64-bit hash cannot: checkerboards of other checker
sizes, one board with a few tiles moved (`fine_distance`).

Hashes and colour signatures are uint64, stored as int64 with the same bits (`to_stored`, `from_stored`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vindex.footage import content

HASH_SIDE = 8  # 8x8 coefficients: a 64-bit hash
DCT_SIDE = 32  # the side the (cropped) picture is shrunk to before the DCT, as in pHash
# A border row (or column) is part of a bar when it is this flat (standard deviation, grey
# levels) and this dark (its mean, of 255): the black bars a letterbox or pillarbox adds. A flat
# border of another level (a window's background, a sky, a table top) is the picture's own: were
# it cropped, a boxed copy (its black bars beside that border) would be cropped to another picture
# than its original. Compression noise on a black bar (0 on the grey square, the edge row a
# blend) stays well under both.
BAR_FLATNESS = 8.0
BAR_BLACK = 24.0
# Bars never take more than this share of a side in all: a frame that is flat almost
# everywhere is a blank frame, not a letterboxed one, and is hashed whole.
BAR_MAX_SHARE = 0.75
# Seconds either side of a sample whose samples must all show a row as bar for it to be bar there:
# the whole of a short video; in a long one, the stretch around (its sources boxed differently).
BAR_WINDOW_SECONDS = 5.0
# A frame whose shrunk, cropped picture has less contrast than this (standard deviation, grey levels)
# is blank: black, white, one colour (under 1), the dark end of a fade (about 2). Its hash is noise. Small
# text on a terminal shrinks to 1.5-5: at 6.0 a to-do list's recording had no footage, none of its 10
# copies found (the seventh footage set); at 3.0 (2.0 alike) the eight sets found 13 more, none wrongly.
BLANK_CONTRAST = 3.0
# A frame whose 63 lowest frequencies (the hash's 8x8 coefficients but the mean) hold less than this
# share of its contrast (the energy of the shrunk, cropped picture about its mean) has a hash that says
# little about it: a fine periodic pattern (stripes, rings, a checkerboard) puts its energy above those
# frequencies, and the bits come from leftovers that any two such pictures share. Measured on 12 frames
# each: real footage (scripts/bench_dupes.py --footage originals, sub-clips, the long videos) 0.21 at
# least (a music visualizer), 0.26 at its 1st percentile; the demo's stripes, rings and most
# checkerboards 0.01-0.06; its gradients, blobs and plasma 0.92-1.0.
WEAK_HASH_SHARE = 0.1
# The side of the finer hash's block of lowest DCT frequencies (of the DCT_SIDE square): 256 bits.
FINE_SIDE = 16
FINE_WORDS = FINE_SIDE * FINE_SIDE // 64
# The version of the rules here and in `vindex.footage` that decide what a video's fingerprints hold (blank,
# weak, held and frozen samples left out) and what counts as its footage: bumped with any change to them, so
# that the next `add` fingerprints again, by decoding and without re-embedding, each row whose
# `fingerprint_rules` is older or null. 3: the footage a user would miss (`footage_seconds`, `footage_start`).
RULES_VERSION = 3


def _dct_rows(side: int = HASH_SIDE) -> np.ndarray:
    """The first `side` rows of the (unnormalised) DCT-II matrix of size DCT_SIDE.

    scipy's unnormalised DCT scales every coefficient alike, so the bits are pHash's.
    """
    k = np.arange(side)[:, None]
    n = np.arange(DCT_SIDE)[None, :]
    return np.cos(np.pi * (2 * n + 1) * k / (2 * DCT_SIDE))


DCT_ROWS = _dct_rows()  # (8, 32)
FINE_ROWS = _dct_rows(FINE_SIDE).astype(np.float32)  # (16, 32)
# The norms of DCT_ROWS' rows, per coefficient of the 8x8 block (flattened): dividing by them gives
# the orthonormal DCT's coefficients.
DCT_NORMS = np.outer(*(2 * [np.sqrt(np.r_[DCT_SIDE, np.full(HASH_SIDE - 1, DCT_SIDE / 2)])])).ravel()
BIT_WEIGHTS = np.left_shift(np.uint64(1), np.arange(63, -1, -1, dtype=np.uint64))  # first bit is the highest


@dataclass(frozen=True)
class HashedPictures:
    """Hashes of a batch of frames, their blank flags, and the share of each frame's width and
    height left once its bars are cropped."""

    hashes: np.ndarray  # uint64 (n,)
    blank: np.ndarray  # bool (n,)
    width_share: np.ndarray  # float (n,)
    height_share: np.ndarray  # float (n,)
    weak: np.ndarray  # bool (n,): the hash says little of the picture (WEAK_HASH_SHARE), never a match
    colours: np.ndarray  # uint64 (n,): the colour signatures (`colour_signatures`); 0 without chroma
    fine: np.ndarray  # uint64 (n, FINE_WORDS): the finer hashes (`fine_hashes`)

    def picture_share(self) -> tuple[float, float]:
        """(width, height) share of the picture without bars: the median over the non-blank frames."""
        shown = ~self.blank
        if not shown.any():
            return 1.0, 1.0
        return float(np.median(self.width_share[shown])), float(np.median(self.height_share[shown]))


def fingerprint(grey: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hashes and blank flags of a batch of grey frames `(n, h, w)` uint8 (any square-ish size,
    `sample_pictures.GREY_SIZE` when decoded by vindex). Returns `(uint64 (n,), bool (n,))`."""
    hashed = hash_pictures(grey)
    return hashed.hashes, hashed.blank


def hash_pictures(grey: np.ndarray, chroma: np.ndarray | None = None, times: np.ndarray | None = None) -> HashedPictures:
    """`fingerprint`, with the share of each picture its bars leave and, given `chroma` ((n, 2, s, s)
    uint8: each frame's U and V planes, any square size), its colour signatures. Given `times` (the
    frames' seconds, in order: samples of one video), a row or column of a frame of its footage
    (`content`: no blank frame, title card or frozen end) is bar only where it is in the footage's
    frames around too (`_ends`); the others are cropped each alone, a title card as in any copy."""
    grey = np.asarray(grey)
    if grey.ndim == 2:
        grey = grey[None]
    count = len(grey)
    if not count:
        return HashedPictures(np.zeros(0, np.uint64), np.zeros(0, bool), np.zeros(0), np.zeros(0), np.zeros(0, bool),
                              np.zeros(0, np.uint64), np.zeros((0, FINE_WORDS), np.uint64))
    pixels = grey.astype(np.float32)
    row_bars = _line_bars(pixels)
    crop, column_bars = _crop(pixels, row_bars)
    small, blank, hashes, coefficients = _hashed(pixels, *crop)
    if times is not None and count > 1:
        footage = content(hashes, np.asarray(times), blank)
        alone = crop
        around, _ = _crop(pixels, row_bars, np.asarray(times), _contrasted(pixels) & footage, (alone, column_bars))
        crop = tuple(np.where(footage, new, old) for new, old in zip(around, alone))
        moved = np.flatnonzero(np.any([new != old for new, old in zip(crop, alone)], axis=0))
        if len(moved):  # hashed again: only the frames whose crop the footage around them changed
            for whole, again in zip((small, blank, hashes, coefficients), _hashed(pixels[moved], *(e[moved] for e in crop))):
                whole[moved] = again
    top, bottom, left, right = crop
    low = (coefficients / DCT_NORMS) ** 2  # the orthonormal DCT's coefficients: energies add up (Parseval)
    contrast = ((small - small.mean(axis=(1, 2), keepdims=True)) ** 2).sum(axis=(1, 2))
    weak = low[:, 1:].sum(axis=1) < WEAK_HASH_SHARE * np.maximum(contrast, 1e-9)
    colours = (np.zeros(count, np.uint64) if chroma is None else
               colour_signatures(small, chroma, top / pixels.shape[1], bottom / pixels.shape[1],
                                 left / pixels.shape[2], right / pixels.shape[2]))
    return HashedPictures(hashes, blank, (right - left) / pixels.shape[2], (bottom - top) / pixels.shape[1], weak,
                          colours, fine_hashes(small))


def shrunk_pictures(pixels: np.ndarray, side: int, times: np.ndarray | None = None,
                    voting: np.ndarray | None = None) -> np.ndarray:
    """Each grey picture of `pixels` (n, h, w) without its bars (as the hashes crop them: `times` and
    `voting` as for `_ends`), shrunk to a `side` x `side` square by a box filter: (n, side, side)."""
    voting = None if times is None else _contrasted(pixels) & (True if voting is None else voting)
    (top, bottom, left, right), _ = _crop(pixels, _line_bars(pixels), times, voting)
    rows = _box_matrices(top, bottom, pixels.shape[1], side)
    columns = _box_matrices(left, right, pixels.shape[2], side)
    return np.einsum("nij,njk,nlk->nil", rows, pixels, columns, optimize=True)


def _contrasted(pixels: np.ndarray) -> np.ndarray:
    """Which frames are not flat all over (black, a fade): only they say where the bars are (`_ends`)."""
    return pixels.reshape(len(pixels), -1).std(axis=1) >= BLANK_CONTRAST


def _crop(pixels: np.ndarray, row_bars: np.ndarray, times: np.ndarray | None = None, voting: np.ndarray | None = None,
          known: tuple | None = None) -> tuple[tuple, np.ndarray]:
    """((top, bottom, left, right) of each frame's picture without bars, the frames' column bars).

    `row_bars` are the frames' `_line_bars`; `times` and `voting` as for `_ends`. Given `known` (a crop of the
    same frames and its column bars), the column bars of a frame whose top and bottom are the same are taken
    from it, not measured again."""
    top, bottom = _ends(row_bars, times, voting)
    if known is None:
        column_bars = _line_bars(pixels.transpose(0, 2, 1), top, bottom)
    else:
        (known_top, known_bottom, *_), known_bars = known
        column_bars = known_bars.copy()
        moved = np.flatnonzero((top != known_top) | (bottom != known_bottom))
        if len(moved):
            column_bars[moved] = _line_bars(pixels[moved].transpose(0, 2, 1), top[moved], bottom[moved])
    left, right = _ends(column_bars, times, voting)
    return (top, bottom, left, right), column_bars


def _hashed(pixels: np.ndarray, top: np.ndarray, bottom: np.ndarray, left: np.ndarray, right: np.ndarray) -> tuple:
    """(the cropped pictures shrunk to DCT_SIDE squares, blank flags, hashes, 8x8 DCT coefficients)."""
    count = len(pixels)
    rows = _box_matrices(top, bottom, pixels.shape[1])  # (n, 32, h)
    columns = _box_matrices(left, right, pixels.shape[2])  # (n, 32, w)
    small = np.einsum("nij,njk,nlk->nil", rows, pixels, columns, optimize=True)  # (n, 32, 32)
    blank = small.reshape(count, -1).std(axis=1) < BLANK_CONTRAST
    coefficients = np.einsum("ai,nij,bj->nab", DCT_ROWS, small, DCT_ROWS, optimize=True).reshape(count, -1)
    bits = coefficients > np.median(coefficients, axis=1, keepdims=True)
    hashes = (bits.astype(np.uint64) * BIT_WEIGHTS).sum(axis=1, dtype=np.uint64)
    return small, blank, hashes, coefficients


def colour_signatures(small: np.ndarray, chroma: np.ndarray, top: np.ndarray, bottom: np.ndarray,
                      left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Per frame, eight signed bytes in one uint64: the mean grey level of each quarter of `small`
    ((n, 32, 32): the cropped, shrunk grey picture the hash is made of), less 128, then the mean U
    and V of the top and bottom halves of `chroma` ((n, 2, s, s) uint8 U and V planes) within
    [top, bottom) x [left, right) (shares of the height and width: the bars cropped), less 128."""
    count = len(small)
    half = DCT_SIDE // 2
    grey = small.reshape(count, 2, half, 2, half).mean(axis=(2, 4)).reshape(count, 4)
    planes = np.asarray(chroma, np.float32)
    rows = _box_matrices(top * planes.shape[2], bottom * planes.shape[2], planes.shape[2], 2)  # (n, 2, s)
    columns = _box_matrices(left * planes.shape[3], right * planes.shape[3], planes.shape[3], 1)  # (n, 1, s)
    colour = np.einsum("nij,ncjk,nlk->ncil", rows, planes, columns, optimize=True).reshape(count, 4)
    signed = np.clip(np.round(np.concatenate([grey, colour], axis=1) - 128), -128, 127).astype(np.int8)
    return np.ascontiguousarray(signed).view(np.uint64).ravel()


def fine_hashes(small: np.ndarray) -> np.ndarray:
    """Per picture of `small` ((n, 32, 32): the cropped, shrunk grey pictures), its finer hash: one bit
    per coefficient of the FINE_SIDE x FINE_SIDE lowest DCT frequencies, set where it is above their
    median, as FINE_WORDS uint64 (n, FINE_WORDS)."""
    count = len(small)
    # Two plain products, not BLAS: a BLAS call this size wakes its thread pool, whose spinning threads
    # cost more CPU than the products themselves (scripts/bench_dupes.py's decode CPU).
    rows = np.einsum("ai,nij->naj", FINE_ROWS, small.astype(np.float32), optimize=False)
    coefficients = np.einsum("naj,bj->nab", rows, FINE_ROWS, optimize=False).reshape(count, -1)
    bits = coefficients > np.median(coefficients, axis=1, keepdims=True)
    return np.packbits(bits, axis=1).view(">u8").astype(np.uint64).reshape(count, FINE_WORDS)


def fine_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Bits (of FINE_SIDE squared) by which finer hashes differ: rows of (n, FINE_WORDS) uint64."""
    return np.bitwise_count(np.bitwise_xor(np.asarray(a, np.uint64), np.asarray(b, np.uint64))).sum(axis=-1)


def colour_apart(a: np.ndarray | int, b: np.ndarray | int) -> tuple[np.ndarray, np.ndarray]:
    """How far apart two colour signatures are (broadcast): (the largest difference of their
    quarters' grey levels, the largest difference of their halves' U or V), in levels of 255."""
    a, b = np.broadcast_arrays(np.asarray(a, np.uint64), np.asarray(b, np.uint64))
    left, right = (np.ascontiguousarray(x).view(np.int8).reshape(*x.shape, 8).astype(np.int16) for x in (a, b))
    apart = np.abs(left - right)
    return apart[..., :4].max(axis=-1), apart[..., 4:].max(axis=-1)


def _line_bars(pixels: np.ndarray, start: np.ndarray | None = None, stop: np.ndarray | None = None) -> np.ndarray:
    """(n, h) bool: which rows of each frame are flat and near-black (BAR_FLATNESS, BAR_BLACK), the
    rows of a bar. With `start` and `stop` (the kept rows of the transposed picture), only those columns of
    each row count, so a letterbox's black rows do not hide a pillarbox."""
    if start is None:
        width = pixels.shape[2]
        mean = pixels.sum(axis=2) / np.float32(width)  # (n, h)
        spread = np.sqrt(np.maximum(((pixels - mean[:, :, None]) ** 2).sum(axis=2) / np.float32(width), 0))
    else:
        index = np.arange(pixels.shape[2])[None, :]
        weights = ((index >= start[:, None]) & (index < stop[:, None])).astype(np.float32)[:, None, :]
        total = weights.sum(axis=2)
        mean = (pixels * weights).sum(axis=2) / total
        spread = np.sqrt(np.maximum(((pixels - mean[:, :, None]) ** 2 * weights).sum(axis=2) / total, 0))
    return (spread <= BAR_FLATNESS) & (mean <= BAR_BLACK)


def _ends(bar: np.ndarray, times: np.ndarray | None, voting: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """How many rows of bar each frame has at its top and bottom: `(first kept row, end of kept rows)`.

    A row is bar in a frame when it is bar there (`bar`: `_line_bars`) and in every other frame within
    BAR_WINDOW_SECONDS of it (`times`; each frame alone when None) that votes (`voting`, a frame not flat all
    over: `_contrasted`): a dark picture beside a bar (a night scene, a black window) is not bar, since it is
    not dark throughout, and a boxed copy and its original crop to the same picture.
    """
    count, height = bar.shape
    if times is not None and count > 1:
        against = np.vstack([np.zeros((1, height), np.int64), np.cumsum(~bar & voting[:, None], axis=0)])
        times = np.asarray(times, np.float64)
        first = np.searchsorted(times, times - BAR_WINDOW_SECONDS, side="left")
        last = np.searchsorted(times, times + BAR_WINDOW_SECONDS, side="right")
        bar = bar & (against[last] - against[first] == 0)
    top, bottom = _run(bar), _run(bar[:, ::-1])
    too_much = top + bottom > BAR_MAX_SHARE * height
    top[too_much], bottom[too_much] = 0, 0
    return top, height - bottom


def _run(bar: np.ndarray) -> np.ndarray:
    """The length of the leading run of True in each row."""
    return np.cumprod(bar, axis=1).sum(axis=1)


def _box_matrices(start: np.ndarray, stop: np.ndarray, size: int, cells: int = DCT_SIDE) -> np.ndarray:
    """Per frame, the (cells, size) matrix that averages pixels [start, stop) into `cells` cells
    (area-weighted), i.e. a box-filter resize of the crop. Built once per distinct crop: most frames share one."""
    spans, which = np.unique(np.stack([np.asarray(start), np.asarray(stop)], axis=1), axis=0, return_inverse=True)
    start, stop = spans[:, 0], spans[:, 1]
    span = (stop - start).astype(np.float32)[:, None, None]
    cell = np.arange(cells, dtype=np.float32)[None, :, None]
    low = start[:, None, None] + span * cell / cells
    high = start[:, None, None] + span * (cell + 1) / cells
    pixel = np.arange(size, dtype=np.float32)[None, None, :]
    overlap = np.clip(np.minimum(pixel + 1, high) - np.maximum(pixel, low), 0, None)
    return (overlap / overlap.sum(axis=2, keepdims=True))[which.ravel()]


def distance(a: np.ndarray | int, b: np.ndarray | int) -> np.ndarray:
    """Hamming distances between uint64 hashes (broadcast)."""
    return np.bitwise_count(np.bitwise_xor(np.asarray(a, np.uint64), np.asarray(b, np.uint64)))


def to_stored(hashes: np.ndarray) -> np.ndarray:
    """uint64 hashes as the int64 values LanceDB stores (the same 64 bits)."""
    return np.asarray(hashes, np.uint64).view(np.int64)


def from_stored(values) -> np.ndarray:
    """Stored int64 values (a list, an array, a pyarrow array without nulls) as uint64 hashes."""
    return np.asarray(values, np.int64).view(np.uint64)
