"""Scene-aware sampling: skip frames nearly identical to the last kept one (dHash)."""

from __future__ import annotations

import numpy as np
from PIL import Image


def dhash(image: np.ndarray) -> int:
    """64-bit difference hash: signs of horizontal gradients on a 9x8 greyscale thumbnail."""
    small = np.asarray(Image.fromarray(image).convert("L").resize((9, 8), Image.Resampling.BOX))
    bits = (small[:, 1:] > small[:, :-1]).flatten()
    return int(np.packbits(bits).view(">u8")[0])


class SceneFilter:
    """Keeps a frame when it differs from the last kept frame by more than `max_distance` bits."""

    def __init__(self, max_distance: int):
        self.max_distance = max_distance
        self._last: int | None = None

    def keep(self, image: np.ndarray) -> bool:
        h = dhash(image)
        if self._last is not None and (h ^ self._last).bit_count() <= self.max_distance:
            return False
        self._last = h
        return True
