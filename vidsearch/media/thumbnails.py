"""Small JPEG thumbnails, one per sampled frame, stored as <dir>/<video_id>/<frame_index>.jpg."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from vidsearch.store.space import disk_full, ensure_free, is_disk_full


def encode_thumbnail(image: np.ndarray, max_side: int = 192, quality: int = 80) -> bytes:
    pic = Image.fromarray(image)
    pic.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
    out = io.BytesIO()
    pic.save(out, format="JPEG", quality=quality)
    return out.getvalue()


class ThumbnailStore:
    """Thumbnails on disk, addressable by video and second."""

    def __init__(self, root: Path, fps: float, min_free_mb: float = 0):
        self.root = Path(root)
        self.fps = fps
        self.min_free_mb = min_free_mb

    def ensure_room(self) -> None:
        """Raise DiskFull when writing more would eat into the disk's kept-free margin."""
        ensure_free(self.root, self.min_free_mb, "writing thumbnails")

    def path(self, video_id: str, frame_index: int) -> Path:
        return self.root / video_id / f"{frame_index:07d}.jpg"

    def write(self, video_id: str, frame_index: int, jpeg: bytes) -> None:
        target = self.path(video_id, frame_index)
        tmp = target.with_suffix(".tmp")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(jpeg)
            tmp.replace(target)  # readers never see half a file
        except OSError as e:
            tmp.unlink(missing_ok=True)
            if is_disk_full(e):
                raise disk_full(self.root, "writing thumbnails", e) from None
            raise

    def at(self, video_id: str, second: float, fps: float | None = None) -> Path | None:
        """The thumbnail of the sampled frame nearest to `second`, if it exists; `fps` is the rate
        the video was sampled at (its record's), when that is not the current one."""
        target = self.path(video_id, max(0, round(second * (fps or self.fps))))
        return target if target.exists() else None

    def delete(self, video_id: str) -> None:
        shutil.rmtree(self.root / video_id, ignore_errors=True)
