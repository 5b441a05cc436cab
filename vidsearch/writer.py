"""The end of the indexing pipeline: rows become thumbnails, frame points and finished records.

Rows arrive in any order across videos and within one. A video is marked complete only when every
one of its frames (a count known from its duration before decoding starts) and its audio result
have been written, so a job killed midway leaves it `indexing`, and the next run indexes it again
over the same deterministic ids.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from vidsearch.media.thumbnails import ThumbnailStore
from vidsearch.scenes import parse_cuts, scenes_from

log = logging.getLogger(__name__)


@dataclass
class _Progress:
    payload: dict
    total: int
    written: int = 0
    audio: str | None = None
    fingerprint: str | None = None
    cuts: list[tuple[float, str]] = field(default_factory=list)  # shot boundaries, as parts report them


@dataclass
class WriteResult:
    complete: dict[str, int] = field(default_factory=dict)  # video_id -> frames
    failed: dict[str, str] = field(default_factory=dict)  # video_id -> reason


class IndexWriter:
    def __init__(self, store, thumbnails: ThumbnailStore, videos: dict[str, tuple[dict, int]], semantic_model: str | None,
                 fps: float = 1.0, scenes: bool = False, copies: bool = False, alignment: tuple | None = None):
        """`videos` maps each video id to its frame payload and its expected frame count; with
        `scenes`, each finished video gets the scenes its parts' boundaries make; with `copies`,
        the links to the indexed videos of the same footage (vidsearch.duplicates)."""
        self.store = store
        self.thumbnails = thumbnails
        self.semantic_model = semantic_model
        self.fps = fps
        self.scenes = scenes
        self.copies = copies
        self.alignment = alignment  # the copy descriptor's (params, threshold), for its copies
        self.result = WriteResult()
        self._progress = {vid: _Progress(payload, total) for vid, (payload, total) in videos.items()}

    @property
    def frames_expected(self) -> int:
        return sum(p.total for p in self._progress.values())

    @property
    def frames_written(self) -> int:
        return sum(p.written for p in self._progress.values())

    def write(self, batch: dict[str, np.ndarray]) -> None:
        errors = batch["error"]
        for vid in dict.fromkeys(batch["video_id"]):  # each video of the batch, in order
            if vid in self.result.failed or vid in self.result.complete:
                continue  # frames of a video that already failed are dropped
            rows = batch["video_id"] == vid
            bad = rows & (errors != "")
            if bad.any():
                self.fail(vid, str(errors[bad][0]))
                continue
            self._write_frames(vid, {k: v[rows] for k, v in batch.items()})

    def _write_frames(self, vid: str, rows: dict[str, np.ndarray]) -> None:
        self.thumbnails.ensure_room()  # a full disk stops the job (DiskFull): every video would fail
        for index, jpeg in zip(rows["frame_index"], rows["thumb"]):
            self.thumbnails.write(vid, int(index), jpeg)
        semantic = rows.get("semantic")
        progress = self._progress[vid]
        progress.written += self.store.upsert_frames(
            progress.payload,
            rows["frame_index"],
            rows["second"],
            rows["copy"],
            semantic,
            rows["keep_semantic"] if semantic is not None else None,
        )
        audio = rows["audio"] != ""
        if audio.any():
            i = int(np.argmax(audio))
            progress.audio = str(rows["audio"][i])
            progress.fingerprint = str(rows["fingerprint"][i]) or None
        for encoded in rows["cuts"][rows["cuts"] != ""]:
            progress.cuts.extend(parse_cuts(str(encoded)))
        if progress.audio is not None and progress.written >= progress.total:
            extra = {}
            if self.scenes:
                duration = progress.payload.get("duration_s") or progress.total / self.fps
                scenes = scenes_from(progress.cuts, duration, self.fps, progress.total)
                extra["scenes"] = [s.model_dump() for s in scenes]
            if self.copies:
                extra["copies"] = self._copies_of(vid)
            self.store.set_status(
                vid,
                "complete",
                frames=progress.total,
                audio=progress.audio,
                fingerprint=progress.fingerprint,
                semantic_model=self.semantic_model,
                **extra,
            )
            self.result.complete[vid] = progress.total

    def _copies_of(self, vid: str) -> list[dict] | None:
        from vidsearch.duplicates import find_copies
        from vidsearch.store.errors import StoreError

        try:
            return [link.model_dump() for link in find_copies(self.store, vid, self.fps, self.alignment)]
        except StoreError:
            raise
        except Exception:  # the video is complete without them; a re-index looks again
            log.exception("looking for the copies of video %s failed", vid)
            return None

    def fail(self, vid: str, reason: str) -> None:
        log.info("video %s failed: %s", vid, reason)
        self.store.delete_frames(vid)
        self.thumbnails.delete(vid)
        self.store.set_status(vid, "failed", error=reason, frames=0)
        self.result.failed[vid] = reason

    def unfinished(self) -> list[str]:
        return [v for v in self._progress if v not in self.result.complete and v not in self.result.failed]
