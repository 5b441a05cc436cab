"""Deciding what an index run does with each file it found, from checksums and the store's records.

Rules: unchanged content at the same path is skipped; the same content at a new path, when the old
path is gone, is a move (the index is kept, the path updated); a path whose content changed loses
its old video; anything not completely indexed (or indexed before the semantic model was available)
is indexed again, as is one whose copy vectors an older descriptor version made, and, while scenes
are on, one indexed without them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import fsspec

from vidsearch.embedders.copy import VERSION as COPY_VERSION
from vidsearch.frame_batches import VideoTask
from vidsearch.media.probe import VideoMetadata
from vidsearch.store import ids
from vidsearch.store.records import VideoRecord


@dataclass(frozen=True)
class Inspected:
    """A discovered file after checksum and probe."""

    path: str
    size_bytes: int
    checksum: str | None = None
    metadata: VideoMetadata | None = None
    error: str | None = None

    @property
    def video_id(self) -> str | None:
        return ids.video_id(self.checksum) if self.checksum else None


@dataclass
class Plan:
    to_index: list[VideoTask] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, why)
    moved: list[tuple[str, str]] = field(default_factory=list)  # (video_id, new path)
    stale: list[str] = field(default_factory=list)  # video ids whose file changed or vanished
    failed: list[Inspected] = field(default_factory=list)
    records: list[VideoRecord] = field(default_factory=list)  # written before frames are


def path_exists(path: str) -> bool:
    fs, base = fsspec.core.url_to_fs(path)
    return fs.exists(base)


def make_plan(inspected: list[Inspected], store, semantic_model: str | None, fps: float, scenes: bool = False,
              copy_version: str = COPY_VERSION) -> Plan:
    """What an index run does with each inspected file; `copy_version`: the copy descriptor's
    (embedders.descriptors.descriptor_version), which every complete video must have been described with."""
    plan = Plan()
    claimed: dict[str, str] = {}  # video_id -> path that holds it in this run
    for item in inspected:
        vid = item.video_id
        # Whatever else this path held before is stale now.
        for old in store.list_videos(path=item.path):
            if old.video_id != vid and old.video_id not in plan.stale:
                plan.stale.append(old.video_id)
        if vid is None or item.error:
            plan.failed.append(item)
            continue
        if vid in claimed:
            plan.skipped.append((item.path, f"same content as {claimed[vid]}"))
            continue
        claimed[vid] = item.path
        existing = store.get_video(vid)
        if existing and _is_done(existing, semantic_model, fps, scenes, copy_version):
            if existing.path == item.path:
                plan.skipped.append((item.path, "unchanged"))
            elif not path_exists(existing.path):
                plan.moved.append((vid, item.path))
                plan.skipped.append((item.path, f"moved from {existing.path}"))
            else:
                plan.skipped.append((item.path, f"same content as {existing.path}"))
            continue
        plan.records.append(
            VideoRecord(
                video_id=vid,
                path=item.path,
                checksum=item.checksum,
                size_bytes=item.size_bytes,
                status="indexing",
                metadata=item.metadata,
                sampling_fps=fps,
                copy_descriptor=copy_version,
            )
        )
        plan.to_index.append(VideoTask(vid, item.path, item.metadata))
    return plan


def _is_done(record: VideoRecord, semantic_model: str | None, fps: float, scenes: bool = False,
             copy_version: str = COPY_VERSION) -> bool:
    # A video indexed while the model was missing gets its semantic vectors once the model is here;
    # one whose copy vectors an older descriptor made gets them made again; one sampled at another
    # rate is sampled again, so that clips (read at the current rate) and sources align; one
    # indexed without shot detection is decoded again for its scenes once they are on.
    return (
        record.status == "complete"
        and record.copy_descriptor == copy_version
        and (record.sampling_fps or 1.0) == fps
        and (semantic_model is None or record.semantic_model == semantic_model)
        and (not scenes or record.scenes is not None)
    )
