"""Reading an uploaded clip: its copy vectors at the index's sampling rate and its audio fingerprint."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from vidsearch.crops import SIDES, side_images
from vidsearch.media import insets as boxes_in
from vidsearch.embedders.copy import INSET_WINDOWS, inset_images
from vidsearch.embedders.descriptors import DCT, CopyDescriptor
from vidsearch.fingerprints import AudioFingerprint, fingerprint_audio
from vidsearch.media.files import sniff_container
from vidsearch.media.frames import decoded_ahead, iter_frames
from vidsearch.media.probe import MediaError, VideoMetadata, probe_in_process
from vidsearch.results import Crop


@dataclass(frozen=True)
class ClipVectors:
    seconds: np.ndarray  # (m,) float32
    copy: np.ndarray  # (m, d) float32, d the descriptor's size (63 for the default)
    insets: np.ndarray  # (len(INSET_WINDOWS), m, d) float32: where an inset may sit, per frame
    metadata: VideoMetadata
    # (len(crops.SIDES), m, d): the frame less a side an overlay may cover; None where the
    # descriptor cannot map a source's frames to the same window (a learned one)
    sides: np.ndarray | None = None
    fps: float = 1.0  # the rate `seconds` were sampled at: the index's, so clip and sources align
    descriptor: CopyDescriptor = DCT  # what described them
    # Pictures found inside the clip's picture (media.insets), as fractions of it, and the vectors
    # of each: (len(boxes), m, d)
    boxes: tuple[Crop, ...] = ()
    box_vectors: np.ndarray | None = None
    # A short clip's whole picture sampled about FINE_FPS times a second (its frames at `fps` among
    # them), which reads its speed to a hundredth (alignment.refine_speed); None for a long one.
    fine_seconds: np.ndarray | None = None
    fine_copy: np.ndarray | None = None

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


# Clips up to FINE_MAX_S long are also sampled FINE_FPS times a second: over 5-30 s, 1 fps is too
# few frames to tell 1.1x from 1x; beyond, it is enough (docs/benchmarks.md). The defaults of
# config.SamplingSettings.clip_fine_fps and clip_fine_max_s.
FINE_FPS = 4.0
FINE_MAX_S = 30.0


def clip_vectors(path: str, fps: float = 1.0, max_side: int = 384, max_seconds: float = 600.0,
                 descriptor: CopyDescriptor = DCT, chunk: int = 16, fine_fps: float = FINE_FPS,
                 fine_max_s: float = FINE_MAX_S) -> ClipVectors:
    """A clip's vectors: each sampled frame, its inset windows and (for a linear descriptor) the
    frame less each side, described `chunk` frames at a time (a learned descriptor runs in batches);
    for a clip of at most `fine_max_s`, also the whole picture at about `fine_fps` (a whole multiple
    of `fps`; `ClipVectors.fine_copy`)."""
    meta = probe_in_process(path)
    if meta.duration_s > max_seconds:
        raise MediaError(f"the clip is {meta.duration_s:.0f} s long; clips of at most {max_seconds:.0f} s are matched")
    sides = len(SIDES) if descriptor.linear else 0
    # Sampled at a whole multiple of `fps`, every `every`-th frame is the one sampled at `fps`.
    every = max(1, round(fine_fps / fps)) if meta.duration_s <= fine_max_s else 1
    between_seconds, between, between_images = [], [], []
    seconds, described, images = [], [], []
    first: list[np.ndarray] = []  # the frames the boxes are found from, held until they are
    boxes: list[tuple[int, int, int, int]] | None = None
    size = (1, 1)  # the decoded frames' (height, width), which boxes are found in

    def add(image: np.ndarray) -> None:
        images.extend([image, *inset_images(image), *(side_images(image) if sides else []),
                       *(boxes_in.crop(image, box) for box in boxes)])
        if len(images) >= chunk * (1 + len(INSET_WINDOWS) + sides + len(boxes)):
            described.append(descriptor.describe(images))
            images.clear()

    def settle() -> None:
        """The boxes, from the frames held; then those frames, described."""
        nonlocal boxes, size
        size, boxes = (first[0].shape[:2] if first else size), boxes_in.find_boxes(first)
        for image in first:
            add(image)
        first.clear()

    # Closed as soon as this is done, on an error too: the thread decoding ahead stops then.
    with contextlib.closing(decoded_ahead(iter_frames(path, meta, fps=fps * every, max_side=max_side,
                                                      decoder="pyav"))) as frames:
        for n, frame in enumerate(frames):
            image = descriptor.prepare(frame.image)
            if n % every:
                between_seconds.append(frame.second)
                between_images.append(image)
                if len(between_images) >= chunk:
                    between.append(descriptor.describe(between_images))
                    between_images.clear()
                continue
            seconds.append(frame.second)
            if boxes is not None:
                add(image)
                continue
            first.append(image)
            if len(first) == boxes_in.LOOK:
                settle()
    if boxes is None:  # a clip shorter than the look
        settle()
    if images:
        described.append(descriptor.describe(images))
    if between_images:
        between.append(descriptor.describe(between_images))
    d, per_frame = descriptor.dim, 1 + len(INSET_WINDOWS) + sides + len(boxes)
    vectors = np.concatenate(described).reshape(len(seconds), per_frame, d) if seconds else np.zeros((0, per_frame, d))
    vectors = vectors.astype(np.float32).transpose(1, 0, 2)  # (per_frame, m, d)
    at, (h, w) = 1 + len(INSET_WINDOWS), size
    fine_seconds = fine_copy = None
    if every > 1 and between_seconds:
        fine_seconds = np.concatenate([seconds, between_seconds]).astype(np.float32)
        fine_copy = np.concatenate([vectors[0], *between]).astype(np.float32)
        order = np.argsort(fine_seconds, kind="stable")
        fine_seconds, fine_copy = fine_seconds[order], np.ascontiguousarray(fine_copy[order])
    return ClipVectors(
        seconds=np.array(seconds, dtype=np.float32),
        copy=np.ascontiguousarray(vectors[0]),
        insets=np.ascontiguousarray(vectors[1:at]),
        metadata=meta,
        sides=np.ascontiguousarray(vectors[at : at + sides]) if sides else None,
        fps=fps,
        descriptor=descriptor,
        boxes=tuple(Crop(x=round(x0 / w, 3), width=round((x1 - x0) / w, 3), y=round(y0 / h, 3),
                         height=round((y1 - y0) / h, 3)) for y0, y1, x0, x1 in boxes),
        box_vectors=np.ascontiguousarray(vectors[at + sides :]),
        fine_seconds=fine_seconds,
        fine_copy=fine_copy,
    )


def clip_fingerprint(path: str, meta: VideoMetadata | None = None) -> AudioFingerprint:
    has_audio = bool(meta.audio_tracks) if meta is not None else True
    return fingerprint_audio(path, has_audio=has_audio)
