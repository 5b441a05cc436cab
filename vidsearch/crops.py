"""Copy vectors of crop windows, made from the whole frame's copy vector: no second index.

A re-upload cut to 9:16, 1:1 or 4:5 out of a landscape video shows a window of the source's frame,
and the window's copy vector is unlike the whole frame's. But every step of the copy descriptor
after the border cut is linear (box-resize to 32x32, then the 8x8 lowest DCT frequencies), so the
whole frame's 63 coefficients hold a low-pass picture of it, and the low frequencies of any window
of that picture are a linear map of them: for a window x0..x0+w (fractions of the width), the
window's coefficients are A_y C A_x^T, with A = D R D^T (D the kept DCT rows, R the resampling of
the window onto the 32-grid). Only the window's lowest horizontal frequencies are known that way
(about 8 w of them): a window's vector compares the clip's and the source's on those only.

So a vertical clip is looked for with `WindowMap.probe` vectors searched in the ordinary copy
index, and aligned against each candidate's frames mapped through `WindowMap.source`; a landscape
clip is aligned again against the whole picture's candidates through `zoom_windows`. Frame by
frame on the shared videos (the best window against the frame, and against another frame):
- 9:16 cut at a random position: 0.95 median, 85 % of frames at least 0.85; another frame 0.38.
- 15 % cut from the sides at random: 0.95 (95 % of frames over 0.85; the whole frame's vector
  alone: 0.84, 42 %); 25 % cut from the left: 0.99 (alone: 0.59); another frame 0.20.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from vidsearch.embedders.copy import _DCT, GRID, KEEP

SOURCE_ASPECTS = (16 / 9, 2.39, 4 / 3)  # the shapes of picture a crop is most often cut from
POSITIONS = 7  # window positions across the source's width, ends included
WIDEST = 0.8  # of the source's width: a window wider than this is close to the whole frame


@dataclass(frozen=True)
class WindowMap:
    """The window x0..x0+width, y0..y0+height of the source's frame (fractions of its sides)."""

    x0: float
    width: float
    matrix: np.ndarray  # (63, 63): whole-frame coefficients -> the window's
    keep: np.ndarray  # (63,) bool: the window's coefficients the whole frame determines
    y0: float = 0.0
    height: float = 1.0

    def clip(self, vectors: np.ndarray) -> np.ndarray:
        """The clip's copy vectors (m x 63), on the coefficients this window can compare."""
        return _unit(vectors * self.keep)

    def source(self, vectors: np.ndarray) -> np.ndarray:
        """A source's frame vectors (n x 63) made into this window's."""
        return _unit((vectors @ self.matrix.T) * self.keep)

    def probe(self, clip: np.ndarray) -> np.ndarray:
        """Search vectors for the copy index: the inner product of a probe with a frame's stored
        vector is the clip frame's with the frame's window (before the window's normalisation)."""
        return _unit(self.clip(clip) @ self.matrix)


def windows_for(clip_aspect: float) -> dict[float, list[WindowMap]]:
    """Windows a clip of this shape (width / height) may have been cut as, by source aspect: none
    for a clip about as wide as the sources."""
    out = {}
    for aspect in SOURCE_ASPECTS:
        width = clip_aspect / aspect
        if 0.1 <= width <= WIDEST:
            out[aspect] = [_window(round(float(x0), 4), round(width, 4)) for x0 in np.linspace(0, 1 - width, POSITIONS)]
    return out


# Crops that keep a landscape shape: a zoom (both sides cut alike) or one side cut, by up to 30 %.
ZOOMS = ((0.85, 0.85), (0.75, 0.75), (0.75, 1.0), (1.0, 0.75))
ZOOM_POSITIONS = 3  # along a side that is cut: at either end and centred


def zoom_windows() -> list[WindowMap]:
    """Windows a landscape clip may have been cut as: each of ZOOMS at its positions (a zoom
    cut on both axes sits in a corner or the centre)."""
    out = []
    for width, height in ZOOMS:
        xs = np.linspace(0, 1 - width, ZOOM_POSITIONS) if width < 1 else np.zeros(1)
        ys = np.linspace(0, 1 - height, ZOOM_POSITIONS) if height < 1 else np.zeros(1)
        at = [(x, y) for x in xs for y in ys]
        if width < 1 and height < 1:
            at = [(x, y) for x, y in at if (x in (xs[0], xs[-1])) == (y in (ys[0], ys[-1]))]
        out += [_window(round(float(x), 4), width, round(float(y), 4), height) for x, y in at]
    return out


# What the clip may have lost to an overlay along one side (a caption bar, a logo or a reaction
# face in a corner): the picture without that side's fifth, or its two fifths (a reaction face
# takes a quarter to a third of the width, and as much of the height, from a corner), seen in the
# clip and in the source. (x0, width, y0, height) of what is kept.
SIDE_CUTS = (0.2, 0.4)
SIDES = {
    f"{side} {cut:.0%}": kept
    for cut in SIDE_CUTS
    for side, kept in (
        ("top", (0.0, 1.0, cut, 1 - cut)),
        ("bottom", (0.0, 1.0, 0.0, 1 - cut)),
        ("left", (cut, 1 - cut, 0.0, 1.0)),
        ("right", (0.0, 1 - cut, 0.0, 1.0)),
    )
}


def side_windows() -> list[WindowMap]:
    """One window per entry of SIDES, in its order."""
    return [_window(x0, width, y0, height) for x0, width, y0, height in SIDES.values()]


def side_images(image: np.ndarray) -> list[np.ndarray]:
    """The parts of a clip frame the SIDES windows keep, in their order."""
    h, w = image.shape[:2]
    return [
        np.ascontiguousarray(image[round(y0 * h) : round((y0 + height) * h), round(x0 * w) : round((x0 + width) * w)])
        for x0, width, y0, height in SIDES.values()
    ]


@functools.lru_cache(maxsize=256)
def _window(x0: float, width: float, y0: float = 0.0, height: float = 1.0) -> WindowMap:
    across = _low_pass_resample(x0 * GRID, width * GRID)
    down = _low_pass_resample(y0 * GRID, height * GRID)
    coefficients = np.kron(down, across)  # rows: vertical frequency major, as flatten() lays them
    keep = np.zeros((KEEP, KEEP), dtype=bool)
    keep[: _known(height), : _known(width)] = True
    keep = keep.flatten()[1:]
    return WindowMap(x0, width, coefficients[1:, 1:].astype(np.float32), keep, y0, height)


def _known(share: float) -> int:
    """Frequencies of a window `share` of a side wide that the whole side's KEEP frequencies set."""
    return max(2, min(KEEP, round(KEEP * share + 1)))


def _low_pass_resample(start: float, length: float) -> np.ndarray:
    """(8, 8): the kept DCT frequencies of a 32-sample line -> those of its stretch start..start+length
    resampled to 32 samples (linear interpolation)."""
    resample = np.zeros((GRID, GRID))
    for k in range(GRID):
        x = min(max(start + (k + 0.5) * length / GRID - 0.5, 0.0), GRID - 1.0)
        i = int(np.floor(x))
        resample[k, i] += 1 - (x - i)
        if i + 1 < GRID:
            resample[k, i + 1] += x - i
    return _DCT @ resample @ _DCT.T


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(norms, 1e-6)
