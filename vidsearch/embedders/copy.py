"""The copy descriptor: a weight-free frame vector for finding where a clip was cut from.

What it is: the frame is turned to greyscale, dark uniform borders (letterbox, pillarbox) are cut
away, the rest is box-averaged to 32x32 and transformed with a 2-D DCT; the 8x8 lowest frequencies
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


def content_box(grey: np.ndarray, dark: float = 40.0, spread: float = 24.0) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of the picture inside dark uniform borders; at most 35 % per side."""
    h, w = grey.shape

    def border(lines: np.ndarray, limit: int) -> int:
        flat = (lines.max(axis=1) - lines.min(axis=1) < spread) & (lines.mean(axis=1) < dark)
        n = int(np.argmin(flat)) if not flat.all() else len(flat)
        return min(n, limit)

    top = border(grey, int(0.35 * h))
    bottom = h - border(grey[::-1], int(0.35 * h))
    left = border(grey.T, int(0.35 * w))
    right = w - border(grey.T[::-1], int(0.35 * w))
    return top, bottom, left, right


def copy_descriptor(image: np.ndarray) -> np.ndarray:
    """The 63-d copy vector of an RGB uint8 frame (float32, unit length)."""
    grey = np.asarray(Image.fromarray(image).convert("L"), dtype=np.float32)
    top, bottom, left, right = content_box(grey)
    inner = Image.fromarray(grey[top:bottom, left:right])
    small = np.asarray(inner.resize((GRID, GRID), Image.Resampling.BOX), dtype=np.float32)
    coeffs = (_DCT @ small @ _DCT.T).flatten()[1:]
    norm = float(np.linalg.norm(coeffs))
    if norm < 1e-3:
        # A flat frame (fade to black) has no structure; give every such frame one fixed vector
        # so that it is valid for cosine search and alike only to other flat frames.
        coeffs = np.zeros(DIM, dtype=np.float32)
        coeffs[0] = 1.0
        return coeffs
    return (coeffs / norm).astype(np.float32)


def copy_descriptors(images: list[np.ndarray] | np.ndarray) -> np.ndarray:
    if len(images) == 0:
        return np.zeros((0, DIM), dtype=np.float32)
    return np.stack([copy_descriptor(im) for im in images])


# Where a picture-in-picture inset sits: in a corner, half the frame's width wide, as tall as its
# source's shape makes it (16:9, 4:3 or 2.39:1). Each such window is described on its own.
CORNERS = ("top_left", "top_right", "bottom_left", "bottom_right")
INSET_ASPECTS = (16 / 9, 4 / 3, 2.39)
INSET_WINDOWS = tuple((corner, aspect) for corner in CORNERS for aspect in INSET_ASPECTS)


def inset_descriptors(image: np.ndarray, margin: float = 0.05) -> np.ndarray:
    """Copy vectors of the inset windows of a frame (len(INSET_WINDOWS) x DIM). Each window loses
    `margin` on every side: insets sit a little off the frame's edge, and a strip of the picture
    around them would weigh more in the descriptor than the inset's own thin rim does."""
    h, w = image.shape[:2]
    width = w // 2
    out = np.empty((len(INSET_WINDOWS), DIM), dtype=np.float32)
    for i, (corner, aspect) in enumerate(INSET_WINDOWS):
        height = min(h, max(2, round(width / aspect)))
        top = 0 if corner.startswith("top") else h - height
        left = 0 if corner.endswith("left") else w - width
        dy, dx = int(margin * height), int(margin * width)
        window = image[top + dy : top + height - dy, left + dx : left + width - dx]
        out[i] = copy_descriptor(np.ascontiguousarray(window))
    return out
