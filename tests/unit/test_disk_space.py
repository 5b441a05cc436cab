"""The kept-free margin: the embedded store and the thumbnails refuse to write into it, with an
error that says so, and what they refuse leaves nothing behind. (A disk that really fills up is in
tests/integration/test_disk_full.py.)"""

from __future__ import annotations

import numpy as np
import pytest

from tests.unit.test_copy_index import put, unit
from vidsearch.config import QdrantSettings
from vidsearch.media.thumbnails import ThumbnailStore
from vidsearch.store.edge import EdgeStore
from vidsearch.store.errors import DiskFull
from vidsearch.store.space import free_mb

MORE_THAN_THE_DISK = 1e12  # MB


def test_the_store_refuses_frames_in_the_margin_and_keeps_what_it_has(tmp_path):
    store = EdgeStore.open(QdrantSettings(), tmp_path / "edge", 8, min_free_mb=free_mb(tmp_path) / 1e3)
    try:
        rng = np.random.default_rng(0)
        kept = put(store, "kept", unit(rng, 5))
        store.min_free_mb = MORE_THAN_THE_DISK
        with pytest.raises(DiskFull, match="is full: .* MB free, and writing to the store keeps"):
            put(store, "refused", unit(rng, 5))
        assert store.count_frames(kept) == 5 and store.count_frames() == 5
        store.set_status(kept, "failed", error="still writable: records fit in the margin")
        assert store.get_video(kept).status == "failed"
    finally:
        store.close()


def test_thumbnails_refuse_the_margin(tmp_path):
    thumbnails = ThumbnailStore(tmp_path / "thumbs", 1.0, min_free_mb=MORE_THAN_THE_DISK)
    with pytest.raises(DiskFull, match="writing thumbnails keeps"):
        thumbnails.ensure_room()
    ThumbnailStore(tmp_path / "thumbs", 1.0).ensure_room()  # no margin asked: no refusal
