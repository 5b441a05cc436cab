"""The Qdrant-backed store: frame points, video records, deterministic ids.

`open_store(settings)` opens the engine the settings name: a Qdrant server when `qdrant.url` is
set, else Qdrant Edge under the data dir. Both implement `VideoStore`.
"""

from vidsearch.store.base import FrameHit, VideoStore
from vidsearch.store.errors import StoreBusy, StoreError, StoreUnavailable
from vidsearch.store.open import StoreEngine, open_store, store_engine
from vidsearch.store.records import VideoRecord, VideoStatus

__all__ = [
    "FrameHit", "StoreBusy", "StoreEngine", "StoreError", "StoreUnavailable", "VideoRecord",
    "VideoStatus", "VideoStore", "open_store", "store_engine",
]
