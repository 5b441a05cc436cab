"""The Qdrant-backed store: frame points, video records, deterministic ids."""

from vidsearch.store.errors import StoreBusy, StoreError, StoreUnavailable
from vidsearch.store.records import VideoRecord, VideoStatus
from vidsearch.store.qdrant import VideoStore

__all__ = ["StoreBusy", "StoreError", "StoreUnavailable", "VideoRecord", "VideoStatus", "VideoStore"]
