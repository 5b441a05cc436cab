"""Where a picture sits inside a clip's picture: a picture in picture, or one side of two videos
put side by side, found from the clip's own frames wherever it is and whatever its size.

The fixed inset windows (embedders.copy.INSET_WINDOWS) guess corners and halves; an inset placed
elsewhere, or of another size or shape, falls across them. But the edge of an inset is a straight
line that stays put while the pictures on either side of it change on their own: averaged over
the clip's frames, the step in grey across it stays high all along it, where inside a picture
neighbouring pixels move together. So the boxes are the rectangles whose inner sides are such
ridges (a side on the frame's edge needs none), strong against the picture's typical step and
against the lines just beside them.
"""

from __future__ import annotations

import functools
import itertools

import numpy as np

from vidsearch.embedders.copy import grey_levels

LOOK = 12  # frames the boxes are found from (a clip's first): an inset stays put through a clip
MOST = 2  # boxes kept per clip: each is one more window searched and aligned
RIDGE = 4.0  # a side's mean step over the picture's median step
SHARP = 1.6  # a side's mean step over that of the lines 3 px either side of it
CANDIDATES = 8  # ridge lines per axis tried as sides
MIN_SIDE, MIN_AREA, MAX_AREA = 0.2, 0.08, 0.8  # of the frame's sides and area
SHAPES = (0.4, 2.8)  # width / height a picture can have
MARGIN = 0.02  # of a box's sides dropped at its edges: the edge itself is no part of the picture


def find_boxes(frames: list[np.ndarray], most: int = MOST) -> list[tuple[int, int, int, int]]:
    """Up to `most` boxes (top, bottom, left, right; pixels, ends exclusive) of pictures inside
    these frames (RGB uint8 or grey levels, one size), best first; none from fewer than two
    frames, whose lasting edges cannot be told from those of a still picture."""
    if len(frames) < 2:
        return []
    grey = np.stack([grey_levels(f) for f in frames])
    t, h, w = grey.shape
    across = np.abs(np.diff(grey, axis=2)).mean(axis=0)  # (h, w-1): column b-1 | b at [:, b-1]
    down = np.abs(np.diff(grey, axis=1)).mean(axis=0)  # (h-1, w)
    base = float(np.median(np.concatenate([across.ravel(), down.ravel()]))) + 1.0
    cols = _lines(across.mean(axis=0), base)
    rows = _lines(down.mean(axis=1), base)
    if not cols and not rows:
        return []
    # Mean step along any stretch of a line, in O(1): cumulative sums along each line.
    col_sums = np.vstack([np.zeros((1, w - 1)), np.cumsum(across, axis=0)])  # (h+1, w-1)
    row_sums = np.hstack([np.zeros((h - 1, 1)), np.cumsum(down, axis=1)])  # (h-1, w+1)

    def vertical(b: int, y0: int, y1: int) -> float:
        return float(col_sums[y1, b - 1] - col_sums[y0, b - 1]) / (y1 - y0) if 0 < b < w else np.inf

    def horizontal(b: int, x0: int, x1: int) -> float:
        return float(row_sums[b - 1, x1] - row_sums[b - 1, x0]) / (x1 - x0) if 0 < b < h else np.inf

    @functools.cache  # a side is shared by every box that has it: each is weighed once
    def side(strength, b: int, lo: int, hi: int, n: int) -> float:
        """A side's strength: its step over the picture's, if it is a ridge against its neighbours."""
        if b in (0, n):
            return np.inf  # the frame's edge
        own = strength(b, lo, hi)
        near = max(strength(min(max(b + d, 1), n - 1), lo, hi) for d in (-3, 3))
        return own / base if own >= SHARP * near else 0.0

    found = []
    for (x0, x1), (y0, y1) in itertools.product(_pairs([0, *cols, w], w), _pairs([0, *rows, h], h)):
        area = (x1 - x0) * (y1 - y0) / (w * h)
        if not (MIN_AREA <= area <= MAX_AREA and SHAPES[0] <= (x1 - x0) / (y1 - y0) <= SHAPES[1]):
            continue
        inner = []
        for strength, b, lo, hi, n in ((vertical, x0, y0, y1, w), (vertical, x1, y0, y1, w),
                                       (horizontal, y0, x0, x1, h), (horizontal, y1, x0, x1, h)):
            s = side(strength, b, lo, hi, n)
            if s < RIDGE:
                break  # no box: one weak inner side is enough to tell
            if np.isfinite(s):
                inner.append(s)
        else:
            if inner:
                found.append((min(inner), len(inner), (y0, y1, x0, x1)))
    found.sort(key=lambda f: (-f[1], -f[0]))  # boxes with more inner sides first: a whole inset
    boxes: list[tuple[int, int, int, int]] = []
    for _, _, box in found:
        if all(_iou(box, b) < 0.5 for b in boxes):
            boxes.append(box)
        if len(boxes) == most:
            break
    return [_inner(b) for b in boxes]


def crop(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    top, bottom, left, right = box
    return np.ascontiguousarray(image[top:bottom, left:right])


def _lines(profile: np.ndarray, base: float) -> list[int]:
    """Boundaries (index b: between pixel b-1 and b) where the mean step peaks well over the
    picture's: the strongest CANDIDATES, at least 4 apart."""
    strong = np.flatnonzero(profile >= 0.5 * RIDGE * base)
    peaks = [int(i) for i in strong if profile[i] == profile[max(0, i - 3) : i + 4].max()]
    peaks.sort(key=lambda i: -profile[i])
    kept: list[int] = []
    for i in peaks:
        if all(abs(i - k) >= 4 for k in kept):
            kept.append(i)
    return sorted(b + 1 for b in kept[:CANDIDATES])


def _pairs(edges: list[int], n: int):
    return [(a, b) for a, b in itertools.combinations(sorted(set(edges)), 2) if b - a >= MIN_SIDE * n]


def _inner(box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    y0, y1, x0, x1 = box
    dy, dx = max(1, round(MARGIN * (y1 - y0))), max(1, round(MARGIN * (x1 - x0)))
    return y0 + dy, y1 - dy, x0 + dx, x1 - dx


def _iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    (ay0, ay1, ax0, ax1), (by0, by1, bx0, bx1) = a, b
    inter = max(0, min(ay1, by1) - max(ay0, by0)) * max(0, min(ax1, bx1) - max(ax0, bx0))
    union = (ay1 - ay0) * (ax1 - ax0) + (by1 - by0) * (bx1 - bx0) - inter
    return inter / union if union else 0.0
