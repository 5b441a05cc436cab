"""Shot boundaries from every decoded frame, at almost no cost beside sampling.

The decoder already decodes every frame to reach the sampled ones. Each frame is reduced here to a
tiny signature (a 9x16 grid of luma and chroma means and a luma histogram) read straight from the
decoder's planes, before any colour conversion, so boundaries are frame-accurate while only the
sampled frames are converted and kept.

- A cut is a frame that differs from the one before far more than its neighbours differ from
  each other (an adaptive threshold, as scene detectors do, so fast motion is not a cut).
- A gradual transition (a dissolve, a fade through black or white) changes the picture little
  from frame to frame but much across it: frames half a transition apart are compared, and a
  peak that stands well above the same comparison a little before and after is a boundary, at the
  transition's centre.
- A fade from black at the start or to black at the end opens or closes a shot; it is no boundary.
  A fade out and in again around a black hold is one boundary, in the middle of the black.

Memory is a few floats per frame and a window of about a second of signatures.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

GRID = (9, 16)  # rows, columns of the thumbnail a frame is reduced to
BINS = 16  # luma histogram bins
_CELLS = GRID[0] * GRID[1]
# Pixel formats whose planes are read as they are: 8 bits a sample, luma first (nv12: chroma
# interleaved in one plane, so luma alone). Any other format is converted first.
_PLANAR_8BIT = {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "yuv411p", "yuv440p", "nv12"}


@dataclass(frozen=True)
class ShotParams:
    """Thresholds of the detector, set on generated videos (tests/unit/test_shots.py) and
    measured on real ones (docs/benchmarks.md)."""

    cut_min: float = 0.10  # a cut's frame difference, at least (0..1)
    cut_ratio: float = 3.0  # ... and this many times its neighbours' mean difference
    gradual_min: float = 0.25  # a transition's difference across it, at least
    gradual_ratio: float = 2.0  # ... and this many times the same a transition-width before and after
    half_width_s: float = 0.6  # frames this far either side of a frame are compared for transitions
    min_shot_s: float = 0.4  # boundaries closer than this are one
    fade_max_s: float = 2.0  # two boundaries this close with black between are one fade through it
    dark: float = 0.08  # a frame whose mean luma and spread are under this is black


@dataclass(frozen=True)
class Boundary:
    second: float  # the first frame of the new shot, or a transition's centre
    kind: str  # "cut" or "gradual"
    score: float


def signature(y: np.ndarray, u: np.ndarray | None = None, v: np.ndarray | None = None) -> np.ndarray:
    """A frame's signature from its planes (uint8, any size; chroma optional), as float32 in 0..1:
    the luma grid, the two chroma grids (grey when absent) and the luma histogram."""
    luma = _sample(y, 4)
    hist = np.bincount((luma >> 4).ravel(), minlength=BINS)[:BINS] / luma.size
    grids = [_grid(luma)]
    for plane in (u, v):
        grids.append(_grid(_sample(plane, 2)) if plane is not None else np.full(_CELLS, 0.5, np.float32))
    return np.concatenate([*grids, hist.astype(np.float32)])


def rgb_signature(image: np.ndarray) -> np.ndarray:
    """The same signature from an RGB frame (for decoders that give no planes)."""
    step = max(1, min(image.shape[0] // (GRID[0] * 4), image.shape[1] // (GRID[1] * 4)))
    rgb = image[::step, ::step].astype(np.float32)
    y = 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]
    u = 128 + (rgb[..., 2] - y) * 0.564
    v = 128 + (rgb[..., 0] - y) * 0.713
    as_u8 = [np.clip(p, 0, 255).astype(np.uint8) for p in (y, u, v)]
    return signature(*as_u8)


def plane_signature(frame) -> np.ndarray:
    """The signature of a PyAV VideoFrame read from its planes, without converting it."""
    if frame.format.name not in _PLANAR_8BIT:
        return rgb_signature(frame.to_ndarray(format="rgb24"))
    planes = [_plane(p) for p in frame.planes[:3]]
    return signature(*planes) if len(planes) == 3 else signature(planes[0])


def _plane(plane) -> np.ndarray:
    return np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)[:, : plane.width]


def _sample(plane: np.ndarray, per_cell: int) -> np.ndarray:
    """Every n-th pixel, leaving about `per_cell` samples per grid cell each way."""
    sy = max(1, plane.shape[0] // (GRID[0] * per_cell))
    sx = max(1, plane.shape[1] // (GRID[1] * per_cell))
    return plane[::sy, ::sx]


def _grid(plane: np.ndarray) -> np.ndarray:
    rows, cols = GRID
    h, w = plane.shape
    if h < rows or w < cols:  # a tiny picture: repeat pixels up to the grid
        plane = np.repeat(np.repeat(plane, -(-rows // h), 0), -(-cols // w), 1)
        h, w = plane.shape
    cells = plane[: h - h % rows, : w - w % cols].astype(np.float32)
    cells = cells.reshape(rows, cells.shape[0] // rows, cols, cells.shape[1] // cols).mean(axis=(1, 3))
    return (cells / 255.0).ravel()


def _content(a: np.ndarray, b: np.ndarray) -> float:
    """Mean change of the grids, luma weighing twice the chroma: most of what the eye sees."""
    d = np.abs(a[: 3 * _CELLS] - b[: 3 * _CELLS])
    return float((2 * d[:_CELLS].mean() + d[_CELLS:].mean()) / 3)


def _histogram(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a[3 * _CELLS :] - b[3 * _CELLS :]).sum() / 2)


def _difference(a: np.ndarray, b: np.ndarray) -> float:
    """0..1: how different two frames look, in layout and in tones together, so that motion,
    which moves the layout but keeps the tones, counts less than a change of picture."""
    return (_content(a, b) + _histogram(a, b)) / 2


class ShotDetector:
    """Fed every decoded frame in order (`add`), says where shots change (`boundaries`)."""

    def __init__(self, fps: float, params: ShotParams | None = None):
        self.params = params or ShotParams()
        self.half = max(1, round(self.params.half_width_s * (fps if fps > 0 else 25.0)))
        self._window: deque[np.ndarray] = deque(maxlen=2 * self.half + 1)
        self._times: list[float] = []
        self._step: list[float] = []  # difference to the previous frame
        self._across: list[float] = []  # difference between the frames `half` before and after
        self._dark: list[bool] = []

    def add(self, second: float, sig: np.ndarray) -> None:
        p = self.params
        self._step.append(_difference(self._window[-1], sig) if self._window else 0.0)
        self._window.append(sig)
        self._times.append(second)
        luma = sig[:_CELLS]
        self._dark.append(bool(luma.mean() < p.dark and luma.std() < p.dark))
        if len(self._window) == self._window.maxlen:
            self._across.append(_difference(self._window[0], sig))  # for frame len - 1 - half

    def __len__(self) -> int:
        return len(self._times)

    def boundaries(self, opens: bool = True, closes: bool = True) -> list[Boundary]:
        """The boundaries among the frames added so far; `opens`, `closes`: whether these frames
        start and end the video (a fade from or to black there is no boundary)."""
        n, half = len(self._times), self.half
        if n < 2:
            return []
        times, step, dark = np.asarray(self._times), np.asarray(self._step), np.asarray(self._dark)
        across = np.zeros(n)
        across[half : half + len(self._across)] = self._across
        lit = np.flatnonzero(~dark)
        if not len(lit):
            return []
        # Where the picture starts and ends: a transition reaching either is a fade in or out.
        first = lit[0] + half if opens else -1
        last = lit[-1] - half if closes else n
        cuts = self._cuts(times, step, dark)
        found = cuts + self._gradual(times, across, cuts, first, last)
        found = self._merge_over_black(sorted(found, key=lambda b: b.second), times, dark)
        return self._not_at_ends(found, times, lit, opens, closes)

    def _cuts(self, times, step, dark) -> list[Boundary]:
        p, n, w = self.params, len(step), max(2, self.half)
        found = []
        for i in np.flatnonzero(step >= p.cut_min):
            # Each side's level apart, less the frame's immediate neighbours: a cut into a busy
            # shot must stand out from that shot's own motion too.
            before = step[max(1, i - w) : max(1, i - 1)]
            after = step[min(n, i + 2) : min(n, i + w + 1)]
            level = max(before.mean() if len(before) else 0.0, after.mean() if len(after) else 0.0)
            if step[i] >= p.cut_ratio * max(level, 0.01) and not (dark[i] and dark[i - 1]):
                found.append(Boundary(float(times[i]), "cut", float(step[i])))
        return found

    def _gradual(self, times, across, cuts: list[Boundary], first: int, last: int) -> list[Boundary]:
        p, n, half = self.params, len(times), self.half
        cut_at = np.array([c.second for c in cuts])
        found: list[Boundary] = []
        i = half
        while i < n - half:
            if across[i] < p.gradual_min:
                i += 1
                continue
            # The run of frames that stays above half the threshold (one transition, even where
            # motion dents it) and, around its highest point, the frames near it: a transition
            # longer than the comparison's width reads as a plateau, whose centre is the boundary.
            j = i
            while j + 1 < n - half and across[j + 1] >= p.gradual_min / 2:
                j += 1
            peak = i + int(np.argmax(across[i : j + 1]))
            top = np.flatnonzero(across[i : j + 1] >= 0.9 * across[peak]) + i
            centre = int(top[0] + top[-1]) // 2
            before = across[top[0] - 2 * half] if top[0] - 2 * half >= half else 0.0
            after = across[top[-1] + 2 * half] if top[-1] + 2 * half < n - half else 0.0
            # A cut inside the compared span explains the peak by itself.
            span = (times[max(0, top[0] - half)], times[min(n - 1, top[-1] + half)])
            explained = ((cut_at >= span[0]) & (cut_at <= span[1])).any()
            # A change under way from the picture's first frame, or still at its last, is a fade
            # in or out: there is no steady shot on one side of it.
            opening_or_closing = i <= first or j >= last
            if across[peak] >= p.gradual_ratio * max(before, after) and not (explained or opening_or_closing):
                found.append(Boundary(float(times[centre]), "gradual", float(across[peak])))
            i = j + 1
        return found

    def _merge_over_black(self, found: list[Boundary], times, dark) -> list[Boundary]:
        """Boundaries with nothing but black (or each other) between them are one fade: keep one,
        in the middle of the black; so are two with black somewhere between them, at most a
        fade's length apart (a fade dims fast, then reaches black: a cut into it and one out of
        it); and boundaries closer than a shot's shortest are one."""
        p = self.params
        merged: list[Boundary] = []
        for b in found:
            if merged:
                a = merged[-1]
                between = (times > a.second) & (times < b.second)
                faded = dark[between].any() and (dark[between].all() or b.second - a.second <= p.fade_max_s)
                if b.second - a.second < p.min_shot_s or faded:
                    black = np.flatnonzero(between & dark)
                    if len(black):
                        middle = float((times[black[0]] + times[black[-1]]) / 2)
                        merged[-1] = Boundary(middle, "gradual", max(a.score, b.score))
                    elif b.score > a.score:
                        merged[-1] = b
                    continue
            merged.append(b)
        return merged

    def _not_at_ends(self, found: list[Boundary], times, lit, opens: bool, closes: bool) -> list[Boundary]:
        """A cut from black to the first picture, or from the last one to black, is no change of
        shot either."""
        margin = self.params.min_shot_s
        first = times[lit[0]] + margin if opens else -np.inf
        last = times[lit[-1]] - margin if closes else np.inf
        return [b for b in found if first < b.second < last]
