"""The in-memory copy index follows the store and proposes the right candidates."""

import numpy as np

from tests.unit.test_store import record
from vidsearch.copy_index import CopyIndex
from vidsearch.embedders.copy import DIM


def unit(rng, n):
    v = rng.normal(size=(n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


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


class CountingStore:
    """Counts the store calls a sync makes: a cold load is one paged pass, not one scan per video."""

    def __init__(self, store):
        self.store, self.pages, self.per_video = store, 0, 0
        self.copy_size = store.copy_size

    def complete_versions(self):
        return self.store.complete_versions()

    def copy_page(self, *args, **kwargs):
        self.pages += 1
        return self.store.copy_page(*args, **kwargs)

    def frame_vectors(self, *args, **kwargs):
        self.per_video += 1
        return self.store.frame_vectors(*args, **kwargs)


def test_a_cold_sync_is_one_pass_and_a_new_video_only_appends(store):
    rng = np.random.default_rng(2)
    for i in range(12):
        put(store, f"c{i}", unit(rng, 20))
    counting = CountingStore(store)
    index = CopyIndex()
    assert index.sync(counting) == 12 and len(index) == 240
    assert counting.pages == 1 and counting.per_video == 0
    flat = index._index
    newcomer = unit(rng, 5)
    vn = put(store, "new", newcomer)
    assert index.sync(counting) == 1 and counting.pages == 2
    assert index._index is flat and len(index) == 245  # appended, not rebuilt
    assert index.candidates(newcomer[1:3], limit=1) == [vn]
    np.testing.assert_allclose(index.frames(vn)[1], newcomer[::-1], rtol=1e-6)


def test_removing_a_video_keeps_every_other_video_at_its_rows():
    rng = np.random.default_rng(3)
    index = CopyIndex()
    library = {f"v{i}": unit(rng, 10 + i) for i in range(5)}
    for vid, vectors in library.items():
        index.add(vid, np.arange(len(vectors), dtype=np.float32), vectors)
    index.remove("v1")
    index.add("v3", np.arange(4, dtype=np.float32), library["v3"][:4])  # a new version replaces the old
    assert len(index) == sum(len(v) for k, v in library.items() if k not in ("v1", "v3")) + 4
    for vid in ("v0", "v2", "v4"):
        np.testing.assert_allclose(index.frames(vid)[1], library[vid], rtol=1e-6)
        assert index.candidates(library[vid][2:5], limit=1) == [vid]
    np.testing.assert_allclose(index.frames("v3")[1], library["v3"][:4], rtol=1e-6)
    assert index.nbytes() >= len(index) * 63 * 4


def test_the_block_scan_finds_what_faiss_finds():
    """A large index searches by blocks of rows, not FAISS's search: the same nearest rows, in the
    same order, across block edges and after a removal shifted the rows."""
    from vidsearch import copy_index

    rng = np.random.default_rng(4)
    index = CopyIndex()
    for i in range(12):
        index.add(f"v{i}", np.arange(700, dtype=np.float32), unit(rng, 700))
    index.remove("v3")
    queries = np.vstack([index.frames("v7")[1][[5, 699]], index.frames("v0")[1][:1]]) + 0.05 * unit(rng, 3)
    exact, exact_videos = index._nearest(queries.astype(np.float32), 16), index.candidates(queries)
    scan = CopyIndex.SCAN_FROM, copy_index.SCAN_BLOCK
    try:
        CopyIndex.SCAN_FROM, copy_index.SCAN_BLOCK = 1, 1000  # blocks that split videos, a short last one
        scanned = index._nearest(queries.astype(np.float32), 16)
        assert index.candidates(queries) == exact_videos
    finally:
        CopyIndex.SCAN_FROM, copy_index.SCAN_BLOCK = scan
    np.testing.assert_array_equal(scanned[1], exact[1])
    np.testing.assert_allclose(scanned[0], exact[0], atol=1e-5)


def test_a_snapshot_gives_back_the_same_index_and_a_damaged_one_is_ignored(tmp_path):
    rng = np.random.default_rng(5)
    index = CopyIndex()
    library = {f"v{i}": unit(rng, 7 + 3 * i) for i in range(6)}
    for i, (vid, vectors) in enumerate(library.items()):
        index.add(vid, np.arange(len(vectors), dtype=np.float32) * 2, vectors, version=100.0 + i)
    index.remove("v2")  # rows shifted before saving
    path = tmp_path / "cache" / "copy.bin"
    index.save(path)
    back = CopyIndex.load(path)
    assert back.videos == 5 and len(back) == len(index)
    assert {v: x.version for v, x in back._videos.items()} == {v: x.version for v, x in index._videos.items()}
    for vid in ("v0", "v1", "v3", "v5"):
        np.testing.assert_array_equal(back.frames(vid)[0], index.frames(vid)[0])
        np.testing.assert_array_equal(back.frames(vid)[1], library[vid])
        assert back.candidates(library[vid][1:4], limit=1) == [vid]
    empty = tmp_path / "empty.bin"
    CopyIndex().save(empty)
    assert len(CopyIndex.load(empty)) == 0

    assert CopyIndex.load(tmp_path / "none.bin") is None
    assert CopyIndex.load(path, dim=32) is None  # another descriptor's vectors
    path.write_bytes(path.read_bytes()[:-10])  # cut short, as by a full disk
    assert CopyIndex.load(path) is None
    path.write_bytes(b"not a snapshot at all")
    assert CopyIndex.load(path) is None
    assert list(path.parent.iterdir()) == [path]  # no partial file left behind


def test_a_live_index_starts_from_its_snapshot_and_loads_only_what_changed(store, tmp_path):
    from vidsearch.copy_index import LiveCopyIndex

    rng = np.random.default_rng(6)
    kept = {put(store, f"k{i}", unit(rng, 15)) for i in range(4)}
    snapshot = tmp_path / "copy.bin"
    first = LiveCopyIndex(store, snapshot, save_every_s=0)
    assert first.wait_loaded(30)
    with first.synced() as index:
        assert set(index._videos) == kept
    first.save()
    assert snapshot.exists()

    gone = next(iter(kept))
    store.delete_video(gone)
    newcomer = unit(rng, 9)
    vn = put(store, "later", newcomer)  # indexed while no replica ran
    counting = CountingStore(store)
    second = LiveCopyIndex(counting, snapshot, save_every_s=0)
    assert second.wait_loaded(30)
    assert counting.pages == 1  # one page: the newcomer's frames, not the library's
    with second.synced() as index:
        assert set(index._videos) == kept - {gone} | {vn} and len(index) == 3 * 15 + 9
        assert index.candidates(newcomer[2:5], limit=1) == [vn]
    assert counting.pages == 1  # nothing changed since: no page read

    snapshot.write_bytes(b"garbage")  # a damaged cache costs a full load, nothing else
    third = LiveCopyIndex(store, snapshot)
    assert third.wait_loaded(30)
    with third.synced() as index:
        assert len(index) == 3 * 15 + 9
