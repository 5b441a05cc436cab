"""Reading an uploaded clip: its copy vectors at the index's sampling rate and its audio fingerprint."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from vidsearch.crops import SIDES, side_images
from vidsearch.embedders.copy import DIM, INSET_WINDOWS, copy_descriptor, inset_descriptors
from vidsearch.fingerprints import AudioFingerprint, fingerprint_audio
from vidsearch.media.files import sniff_container
from vidsearch.media.frames import iter_frames
from vidsearch.media.probe import MediaError, VideoMetadata, probe


@dataclass(frozen=True)
class ClipVectors:
    seconds: np.ndarray  # (m,) float32
    copy: np.ndarray  # (m, 63) float32
    insets: np.ndarray  # (len(INSET_WINDOWS), m, 63) float32: where an inset may sit, per frame
    metadata: VideoMetadata
    sides: np.ndarray | None = None  # (len(crops.SIDES), m, 63): the frame less a side an overlay may cover
    fps: float = 1.0  # the rate `seconds` were sampled at: the index's, so clip and sources align

    @property
    def aspect(self) -> float:
        """Width over height as displayed: under 1 for a vertical clip, maybe cut out of a wide one."""
        return self.metadata.width / max(1, self.metadata.height)


@contextlib.contextmanager
def clip_file(data: bytes, suffix: str = ".bin") -> Iterator[str]:
    """Uploaded bytes as a temporary file (ffprobe, decoders and fpcalc read files)."""
    if not data:
        raise MediaError("the upload is empty (0 bytes)")
    if sniff_container(data[:512]) is None:
        raise MediaError("the upload is not a video: its content matches no video container format")
    fd, path = tempfile.mkstemp(prefix="vidsearch-clip-", suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        yield path
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)


def clip_vectors(path: str, fps: float = 1.0, max_side: int = 384, max_seconds: float = 600.0) -> ClipVectors:
    meta = probe(path)
    if meta.duration_s > max_seconds:
        raise MediaError(f"the clip is {meta.duration_s:.0f} s long; clips of at most {max_seconds:.0f} s are matched")
    seconds, copy, insets, sides = [], [], [], []
    for frame in iter_frames(path, meta, fps=fps, max_side=max_side, decoder="pyav"):
        seconds.append(frame.second)
        copy.append(copy_descriptor(frame.image))
        insets.append(inset_descriptors(frame.image))
        sides.append([copy_descriptor(part) for part in side_images(frame.image)])
    return ClipVectors(
        seconds=np.array(seconds, dtype=np.float32),
        copy=np.array(copy, dtype=np.float32).reshape(len(copy), DIM),
        insets=np.array(insets, dtype=np.float32).reshape(len(copy), len(INSET_WINDOWS), DIM).transpose(1, 0, 2),
        metadata=meta,
        sides=np.array(sides, dtype=np.float32).reshape(len(copy), len(SIDES), DIM).transpose(1, 0, 2),
        fps=fps,
    )


def clip_fingerprint(path: str, meta: VideoMetadata | None = None) -> AudioFingerprint:
    has_audio = bool(meta.audio_tracks) if meta is not None else True
    return fingerprint_audio(path, has_audio=has_audio)
