"""The copy descriptor: a weight-free frame vector for finding where a clip was cut from.

What it is: the frame is turned to greyscale, borders (letterbox and pillarbox bars of any colour,
blurred or mirrored fills around a picture in a tall frame) are cut away, the rest is box-averaged to 32x32 and transformed with a 2-D DCT; the 8x8 lowest frequencies
without the DC term (63 numbers), L2-normalised, are the vector.

Why it holds up: re-encoding and scaling change high frequencies, which are dropped; brightness
shifts move only the dropped DC term and contrast changes only the scale, which normalisation
removes, so cosine similarity is a correlation of heavily low-passed images; cutting the borders
first makes letterboxed and bare versions of a frame agree; small crops shift low frequencies only a
little. It is cheap (microseconds per frame), needs no model, and is deterministic across machines.
A single frame's vector is not unique (dark scenes look alike), which is why clips are matched as
sequences, by temporal alignment, not frame by frame.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

GRID = 32
KEEP = 8
DIM = KEEP * KEEP - 1
# Named in each video's record: frames described by another version are described again on the
# next index run (borders2 looked for fills in frames only a little taller than wide, as the
# halves of a landscape frame are; records without a version were made cutting only dark borders).
VERSION = "dct8-borders3"


def _dct_matrix(n: int) -> np.ndarray:
    k = np.arange(n)[:, None]
    x = np.arange(n)[None, :]
    m = np.cos(np.pi * (2 * x + 1) * k / (2 * n)) * np.sqrt(2.0 / n)
    m[0] /= np.sqrt(2.0)
    return m.astype(np.float32)


_DCT = _dct_matrix(GRID)[:KEEP]  # only the rows for the frequencies kept

# Mirroring a picture left to right multiplies each DCT coefficient by (-1) ** (horizontal
# frequency): the descriptor of a flipped frame is the descriptor times this sign mask, so flipped
# copies are found without decoding or describing anything twice.
HFLIP = np.array([(-1.0) ** (i % KEEP) for i in range(1, KEEP * KEEP)], dtype=np.float32)


BORDER_MAX = 0.4  # of the height (or width) a border may take on one side
DETAIL = 10.0  # std of a line's grey levels below which it shows nothing to compare
BLUR_BAND_MIN = 0.08  # of the height: a blurred fill narrower than this is taken for picture
# Fills are looked for in frames at least this much taller than wide: 4:5 and taller. The halves
# of a landscape frame (8:9), where two pictures sit side by side, are not: their borders are bars.
FILL_ASPECT = 1.2


def content_box(
    grey: np.ndarray, dark: float = 40.0, spread: float = 10.0, tone: float = 12.0, blur: float = 0.5,
    mirror: float = 6.0,
) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of the picture inside its borders, at most BORDER_MAX per side.

    A border is what re-uploads put around a picture:
    - dark bars (lines of std under `spread` and mean under `dark`), on any side;
    - bars of one colour, any colour, in pairs (top and bottom, or left and right) of one tone
      and about one size: a flat background reaching one edge of a picture is no border;
    - a blurred copy of the picture above and below it, in a tall frame (FILL_ASPECT): bands that
      end at a sharp edge and hold less than `blur` times the picture's detail. A smooth sky
      looks the same, so these count only in pairs, about as tall above as below;
    - the picture mirrored above and below it, in a tall frame: the lines either
      side of each edge repeat each other (mean difference under `mirror`).
    """
    h, w = grey.shape
    top, bottom = _bars(grey, int(BORDER_MAX * h), dark, spread, tone)
    left, right = _bars(grey.T, int(BORDER_MAX * w), dark, spread, tone)
    if h >= FILL_ASPECT * w:
        top, bottom = _fills(grey, top, bottom, blur, mirror)
    return top, h - bottom, left, w - right


def _fills(grey: np.ndarray, top: int, bottom: int, blur: float, mirror: float) -> tuple[int, int]:
    """(top, bottom) widened to blurred or mirrored fills around the picture, found in the whole
    frame or inside its bars (a mirrored band cut short by a bar)."""
    h = len(grey)
    for a, b in dict.fromkeys([(0, 0), (top, bottom)]):
        for band, tolerance in ((_blurred, blur), (_mirrored, mirror)):
            above, below = band(grey[a : h - b], int(BORDER_MAX * h) - max(a, b), tolerance)
            above, below = above and a + above, below and b + below
            widens = above > top and below > bottom  # bars alone are smooth, and mirror themselves
            if widens and min(above, below) >= BLUR_BAND_MIN * h and abs(above - below) <= 0.1 * h:
                return above, below
    return top, bottom


def _bars(lines: np.ndarray, limit: int, dark: float, spread: float, tone: float) -> tuple[int, int]:
    """How many lines at the start and at the end of `lines` are border bars."""
    if limit == 0 or (lines[[0, -1]].std(axis=1) >= spread).all():
        return 0, 0  # a bar's lines are flat, the outermost first: most windows end here, cheaply
    std, mean = lines.std(axis=1), lines.mean(axis=1)

    def run(flags: np.ndarray) -> int:
        return int(np.argmin(flags)) if not flags.all() else len(flags)

    ends = [(std[:limit], mean[:limit]), (std[::-1][:limit], mean[::-1][:limit])]
    bars = [run((s < spread) & (np.abs(m - m[0]) < tone)) for s, m in ends]
    tones = [m[0] for _, m in ends]
    paired = min(bars) >= max(2, 0.02 * len(lines)) and abs(bars[0] - bars[1]) <= max(2, 0.06 * len(lines))
    if paired and abs(tones[0] - tones[1]) < tone:
        return bars[0], bars[1]
    first, last = (run((s < spread) & (m < dark)) for s, m in ends)
    return first, last


def _blurred(grey: np.ndarray, limit: int, blur: float, edge: float = 8.0) -> tuple[int, int]:
    """The fills above and below a picture, if they are blurred: each edge is the outermost step
    between lines of at least `edge` within `limit` of its side, and the lines beyond it are at most `blur` times as
    detailed along their length as the picture's."""
    h = len(grey)
    lo = max(1, int(BLUR_BAND_MIN * h))
    if limit <= lo:
        return 0, 0
    step = np.abs(np.diff(grey, axis=0)).mean(axis=1)  # step[i]: line i against line i + 1
    detail = np.abs(np.diff(grey, axis=1)).mean(axis=1)
    strong_top, strong_bottom = step[lo - 1 : limit] >= edge, step[::-1][lo - 1 : limit] >= edge
    if not (strong_top.any() and strong_bottom.any()):
        return 0, 0
    top, bottom = lo + int(np.argmax(strong_top)), lo + int(np.argmax(strong_bottom))  # the outermost
    if top + bottom >= h:
        return 0, 0
    picture = detail[top : h - bottom].mean()
    fills = max(detail[:top].mean(), detail[h - bottom :].mean())
    return (top, bottom) if fills < blur * picture else (0, 0)


def _mirrored(grey: np.ndarray, limit: int, mirror: float, depth: int = 12) -> tuple[int, int]:
    """Where the picture's top and bottom edges are, if the bands beyond both are the picture
    mirrored: the edge t whose lines t-1-k and t+k agree best for k < depth ((0, 0) unless both
    sides agree). Lines without detail (a bar, a flat sky) mirror anything and are not looked at."""

    def edge(rows: np.ndarray) -> int:
        lo, hi = max(depth + 1, int(BLUR_BAND_MIN * len(rows))), min(limit, len(rows) - depth)
        if hi <= lo:
            return 0
        spread = rows[: hi - 1 + depth].std(axis=1)  # each line's once: the windows below overlap
        # Scaled, the mirror's axis falls between lines or on one: pair lines either way. Slices
        # of the edges lo..hi-1, not gathered copies: this is the costliest part of a tall frame.
        diff = np.min([
            np.mean([np.abs(rows[lo - 1 - k - on : hi - 1 - k - on] - rows[lo + k : hi + k]).mean(axis=1)
                     for k in range(depth)], axis=0)
            for on in (0, 1)
        ], axis=0)
        detailed = np.mean([spread[lo + k : hi + k] for k in range(depth)], axis=0) >= DETAIL
        diff[~detailed] = np.inf
        best = int(np.argmin(diff))
        return lo + best if diff[best] < mirror else 0

    top = edge(grey)
    return (top, edge(grey[::-1])) if top else (0, 0)  # a fill on one side only is no fill


def grey_levels(image: np.ndarray) -> np.ndarray:
    """What the descriptor reads of an RGB uint8 frame: its grey levels (float32), per pixel, so
    that a window of them is the grey levels of that window. A 2-D array is taken as grey."""
    if image.ndim == 2:
        return np.asarray(image, dtype=np.float32)
    return np.asarray(Image.fromarray(image).convert("L"), dtype=np.float32)


def copy_descriptor(image: np.ndarray) -> np.ndarray:
    """The 63-d copy vector of an RGB uint8 frame, or of its grey levels (float32, unit length)."""
    return copy_descriptors([image])[0]


def copy_descriptors(images: list[np.ndarray] | np.ndarray) -> np.ndarray:
    if len(images) == 0:
        return np.zeros((0, DIM), dtype=np.float32)
    smalls = np.stack([_grid(grey_levels(image)) for image in images])
    # One product for all (a clip frame has twenty-odd windows); the same numbers as one by one.
    coeffs = (_DCT @ smalls @ _DCT.T).reshape(len(smalls), KEEP * KEEP)[:, 1:]
    norms = np.array([np.linalg.norm(c) for c in coeffs])
    # A flat frame (fade to black) has no structure; give every such frame one fixed vector so
    # that it is valid for cosine search and alike only to other flat frames.
    flat = norms < 1e-3
    out = coeffs / np.where(flat, 1.0, norms).astype(np.float32)[:, None]
    out[flat] = 0.0
    out[flat, 0] = 1.0
    return out.astype(np.float32, copy=False)


def _grid(grey: np.ndarray) -> np.ndarray:
    """The picture inside its borders, box-averaged to GRID x GRID."""
    top, bottom, left, right = content_box(grey)
    inner = Image.fromarray(grey[top:bottom, left:right])
    return np.asarray(inner.resize((GRID, GRID), Image.Resampling.BOX), dtype=np.float32)


# Where a picture-in-picture inset sits: in a corner, half the frame's width wide, as tall as its
# source's shape makes it (16:9, 4:3 or 2.39:1); or a half of the frame, where two videos were put
# side by side or one above the other. Each such window is described on its own.
CORNERS = ("top_left", "top_right", "bottom_left", "bottom_right")
INSET_ASPECTS = (16 / 9, 4 / 3, 2.39)
HALVES = ("left", "right", "top", "bottom")
INSET_WINDOWS = tuple((corner, aspect) for corner in CORNERS for aspect in INSET_ASPECTS) + tuple(
    (half, None) for half in HALVES
)


def inset_descriptors(image: np.ndarray, margin: float = 0.05) -> np.ndarray:
    """Copy vectors of the inset windows of a frame (len(INSET_WINDOWS) x DIM)."""
    return copy_descriptors(inset_images(image, margin))


def inset_images(image: np.ndarray, margin: float = 0.05) -> list[np.ndarray]:
    """The inset windows of a frame, in INSET_WINDOWS' order. Each corner window loses `margin`
    on every side: insets sit a little off the frame's edge, and a strip of the picture around
    them would weigh more in the descriptor than the inset's own thin rim does."""
    h, w = image.shape[:2]
    out = []
    for where, aspect in INSET_WINDOWS:
        if aspect is None:  # a half, edge to edge
            top, height = (h - h // 2, h // 2) if where == "bottom" else (0, h // 2 if where == "top" else h)
            left, width = (w - w // 2, w // 2) if where == "right" else (0, w // 2 if where == "left" else w)
            out.append(np.ascontiguousarray(image[top : top + height, left : left + width]))
            continue
        width = w // 2
        height = min(h, max(2, round(width / aspect)))
        top = 0 if where.startswith("top") else h - height
        left = 0 if where.endswith("left") else w - width
        dy, dx = int(margin * height), int(margin * width)
        out.append(np.ascontiguousarray(image[top + dy : top + height - dy, left + dx : left + width - dx]))
    return out
