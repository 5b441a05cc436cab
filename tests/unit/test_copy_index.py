"""The in-memory copy index follows the store and proposes the right candidates."""

import numpy as np
import pytest

from tests.unit.test_store import record
from vidsearch.config import QdrantSettings
from vidsearch.copy_index import CopyIndex
from vidsearch.embedders.copy import DIM
from vidsearch.store import VideoStore


def unit(rng, n):
    v = rng.normal(size=(n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.fixture
def store(tmp_path):
    s = VideoStore.open(QdrantSettings(), tmp_path / "q", semantic_dim=8)
    yield s
    s.close()


def put(store, checksum, vectors, status="complete"):
    r = record(checksum=checksum, path=f"/v/{checksum}.mp4", status=status)
    store.put_video(r)
    n = len(vectors)
    store.upsert_frames(r.frame_payload(), np.arange(n), np.arange(n, dtype=np.float32)[::-1].copy(), vectors)
    return r.video_id


def test_sync_loads_new_complete_videos_and_drops_deleted_ones(store):
    rng = np.random.default_rng(0)
    a, b = unit(rng, 12), unit(rng, 7)
    va = put(store, "a", a)
    put(store, "b", b, status="indexing")  # not matchable until complete
    index = CopyIndex()
    assert index.sync(store) == 1 and index.videos == 1 and len(index) == 12
    seconds, vectors = index.frames(va)
    assert np.all(np.diff(seconds) > 0)  # time order, whatever order the store gave
    np.testing.assert_allclose(vectors[0], a[-1], rtol=1e-6)
    assert index.sync(store) == 0  # nothing changed: nothing reloaded

    vb = put(store, "b", b)
    assert index.sync(store) == 1 and index.videos == 2
    store.delete_video(va)
    assert index.sync(store) == 1 and index.videos == 1 and len(index) == 7
    assert index.candidates(b[:3]) == [vb]


def test_candidates_rank_the_source_of_the_query_frames_first():
    rng = np.random.default_rng(1)
    index = CopyIndex()
    library = {f"v{i}": unit(rng, 50) for i in range(30)}
    for vid, vectors in library.items():
        index.add(vid, np.arange(50, dtype=np.float32), vectors)
    noisy = library["v17"][10:20] + 0.05 * unit(rng, 10)
    assert index.candidates(noisy, limit=3)[0] == "v17"
    assert CopyIndex().candidates(noisy) == []
