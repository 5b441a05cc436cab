"""Per-segment work of the indexing pipeline: decoded frames become batches of rows.

A video is cut into segments of sample indexes so that long videos spread over workers and every
task is about the same size. Each row is a sampled frame with its copy vector, thumbnail and (when a
semantic model is on) the model-sized pixels. The first segment also carries the audio fingerprint,
on its last row; each segment's shot boundaries ride on its own last row. A segment that cannot be
decoded yields one row with `error` set and `frame_index` -1, so the writer learns of it in the
same stream.
"""

from __future__ import annotations

import logging
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from vidsearch.config import Settings, first_decoder
from vidsearch.embedders.copy import DIM as COPY_DIM
from vidsearch.embedders.descriptors import CopyDescriptor, load_descriptor
from vidsearch.embedders.semantic import prepare_image
from vidsearch.fingerprints import AudioFingerprint, fingerprint_audio
from vidsearch.media.dedup import SceneFilter
from vidsearch.media.files import local_copy
from vidsearch.media.frames import iter_frames, sample_times
from vidsearch.media.probe import MediaError, VideoMetadata
from vidsearch.media.shots import Boundary, ShotDetector
from vidsearch.media.thumbnails import encode_thumbnail
from vidsearch.scenes import encode_cuts

log = logging.getLogger(__name__)

Batch = dict[str, np.ndarray]


@dataclass(frozen=True)
class VideoTask:
    video_id: str
    path: str
    metadata: VideoMetadata


@dataclass(frozen=True)
class VideoPart:
    """Samples first..end-1 of one video: what one decode task reads."""

    video_id: str
    path: str
    metadata: VideoMetadata
    first: int  # sample indexes first..end-1
    end: int

    @property
    def with_audio(self) -> bool:
        return self.first == 0

    def owns(self, boundary: Boundary, fps: float) -> bool:
        """Whether a boundary falls in this part's samples: parts overlap by the second each
        decodes before its first sample, and each boundary belongs to one of them."""
        total = frame_count(self.metadata, fps)
        return (self.first == 0 or boundary.second >= self.first / fps) and (
            self.end >= total or boundary.second < self.end / fps
        )


def frame_count(meta: VideoMetadata, fps: float) -> int:
    return len(sample_times(meta.duration_s, fps))


def segments(task: VideoTask, fps: float, segment_s: float) -> list[VideoPart]:
    total = frame_count(task.metadata, fps)
    step = max(1, round(segment_s * fps))
    return [
        VideoPart(task.video_id, task.path, task.metadata, lo, min(lo + step, total))
        for lo in range(0, total, step)
    ]


def segment_batches(seg: VideoPart, settings: Settings, image_size: int | None, rows: int = 32) -> Iterator[Batch]:
    """Decode one segment into row batches of at most `rows` frames (bounded memory)."""
    sampling = settings.sampling
    describer = load_descriptor(settings.descriptor)
    # Scene filtering restarts per segment: at worst one extra semantic vector per segment.
    scenes = SceneFilter(sampling.dedup_max_distance) if sampling.scene_dedup else None
    shots = ShotDetector(seg.metadata.fps or 25.0) if settings.scenes.enabled else None
    pending: list[dict] = []
    try:
        with local_copy(seg.path) as path:
            audio = _Background(fingerprint_audio, path, bool(seg.metadata.audio_tracks)) if seg.with_audio else None
            frames = iter_frames(
                path,
                seg.metadata,
                fps=sampling.fps,
                max_side=sampling.max_side,
                chunk=sampling.chunk_frames,
                chunk_timeout_s=sampling.chunk_timeout_s,
                decoder=first_decoder(settings),
                first=seg.first,
                end=seg.end,
                shots=shots,
            )
            for frame in frames:
                row = {
                    "frame_index": frame.index,
                    "second": frame.second,
                    "image": frame.image,  # until the batch is described
                    "thumb": encode_thumbnail(frame.image, settings.thumbnails.max_side, settings.thumbnails.quality),
                    "keep_semantic": scenes.keep(frame.image) if scenes else True,
                }
                if image_size:
                    row["pixels"] = prepare_image(frame.image, image_size)
                pending.append(row)
                # Hold the last row back: the audio result rides on it.
                if len(pending) > rows:
                    yield _batch(seg.video_id, _described(pending[:-1], describer), image_size, describer.dim)
                    pending = pending[-1:]
            if shots is not None and pending:
                total = frame_count(seg.metadata, sampling.fps)
                found = shots.boundaries(opens=seg.first == 0, closes=seg.end >= total)
                pending[-1]["cuts"] = encode_cuts([b for b in found if seg.owns(b, sampling.fps)])
            if audio is not None and pending:
                fingerprint = audio.result()
                pending[-1]["audio"] = fingerprint.status
                pending[-1]["fingerprint"] = fingerprint.encoded() or ""
    except (MediaError, OSError) as e:
        yield failure_batch(seg.video_id, str(e), image_size, describer.dim)
        return
    if pending:
        yield _batch(seg.video_id, _described(pending, describer), image_size, describer.dim)


def _described(rows: list[dict], describer: CopyDescriptor) -> list[dict]:
    """The rows with their copy vectors, described together (a learned descriptor runs in batches),
    their decoded pictures let go."""
    vectors = describer.describe([r.pop("image") for r in rows])
    for row, vector in zip(rows, vectors):
        row["copy"] = vector
    return rows


def failure_batch(video_id: str, reason: str, image_size: int | None, copy_dim: int = COPY_DIM) -> Batch:
    return _batch(video_id, [{"error": reason, "frame_index": -1}], image_size, copy_dim)


def _batch(video_id: str, rows: list[dict], image_size: int | None, copy_dim: int = COPY_DIM) -> Batch:
    n = len(rows)
    batch: Batch = {
        "video_id": np.array([video_id] * n, dtype=object),
        "frame_index": np.array([r["frame_index"] for r in rows], dtype=np.int32),
        "second": np.array([r.get("second", 0.0) for r in rows], dtype=np.float32),
        "copy": np.stack([r.get("copy", np.zeros(copy_dim, np.float32)) for r in rows]),
        "thumb": np.array([r.get("thumb", b"") for r in rows], dtype=object),
        "keep_semantic": np.array([r.get("keep_semantic", False) for r in rows], dtype=bool),
        "audio": np.array([r.get("audio", "") for r in rows], dtype=object),
        "fingerprint": np.array([r.get("fingerprint", "") for r in rows], dtype=object),
        "error": np.array([r.get("error", "") for r in rows], dtype=object),
        "cuts": np.array([r.get("cuts", "") for r in rows], dtype=object),
    }
    if image_size:
        blank = np.zeros((image_size, image_size, 3), np.uint8)
        batch["pixels"] = np.stack([r.get("pixels", blank) for r in rows])
    return batch


class _Background:
    """Runs the audio fingerprint beside frame decoding: fpcalc is another process, another core."""

    def __init__(self, fn, *args):
        self._value: AudioFingerprint | None = None
        self._thread = threading.Thread(target=self._run, args=(fn, *args), daemon=True)
        self._thread.start()

    def _run(self, fn, *args) -> None:
        try:
            self._value = fn(*args)
        except (OSError, subprocess.SubprocessError) as e:
            self._value = AudioFingerprint("failed", detail=str(e))

    def result(self) -> AudioFingerprint:
        self._thread.join()
        return self._value or AudioFingerprint("failed", detail="fingerprinting stopped")
