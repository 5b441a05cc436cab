"""Deterministic point ids: re-running a job overwrites points instead of duplicating them."""

from __future__ import annotations

import uuid

NAMESPACE = uuid.UUID("6f1c3f0e-3b5e-5a8e-9a43-6d0b8c7a4e21")


def video_id(checksum: str) -> str:
    """A video is its content: the same bytes anywhere have one id, so a moved file keeps its index."""
    return str(uuid.uuid5(NAMESPACE, f"video:{checksum}"))


def frame_id(video: str, frame_index: int) -> str:
    return str(uuid.uuid5(NAMESPACE, f"frame:{video}:{frame_index}"))


def text_id(video: str, source: str, index: int) -> str:
    return str(uuid.uuid5(NAMESPACE, f"text:{video}:{source}:{index}"))


def is_uuid(value: str) -> bool:
    """Whether `value` can be a point id: anything else names no video."""
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True
