import numpy as np
import pytest

from vidsearch.config import QdrantSettings
from vidsearch.embedders.copy import DIM
from vidsearch.media.probe import VideoMetadata
from vidsearch.store import StoreBusy, StoreError, StoreUnavailable, VideoRecord, VideoStore, ids

META = VideoMetadata(
    container="mov,mp4", duration_s=3.0, width=320, height=240, coded_width=320, coded_height=240,
    fps=25, variable_frame_rate=False, video_codec="h264",
)


def record(checksum="abc", path="/v/a.mp4", status="indexing"):
    return VideoRecord(
        video_id=ids.video_id(checksum), path=path, checksum=checksum, size_bytes=10, status=status, metadata=META
    )


def frames(n, dim=8, seed=0):
    rng = np.random.default_rng(seed)
    return np.arange(n), np.arange(n, dtype=np.float32), rng.normal(size=(n, DIM)).astype(np.float32), rng.normal(size=(n, dim)).astype(np.float32)


@pytest.fixture
def store(tmp_path):
    s = VideoStore.open(QdrantSettings(), tmp_path / "q", semantic_dim=8)
    yield s
    s.close()


def test_ids_are_deterministic():
    assert ids.video_id("x") == ids.video_id("x") != ids.video_id("y")
    assert ids.frame_id("v", 1) == ids.frame_id("v", 1) != ids.frame_id("v", 2)


def test_rewriting_frames_never_duplicates(store):
    r = record()
    store.put_video(r)
    idx, sec, copy, sem = frames(5)
    store.upsert_frames(r.frame_payload(), idx, sec, copy, sem)
    store.upsert_frames(r.frame_payload(), idx, sec, copy, sem)
    assert store.count_frames(r.video_id) == 5 == store.count_frames()


def test_frames_without_semantic_vectors(store):
    r = record()
    idx, sec, copy, sem = frames(4)
    store.upsert_frames(r.frame_payload(), idx, sec, copy, sem, np.array([True, False, True, False]))
    got = store.client.retrieve(store.frames, [ids.frame_id(r.video_id, 1), ids.frame_id(r.video_id, 2)], with_vectors=True)
    kinds = sorted(tuple(sorted(p.vector)) for p in got)
    assert kinds == [("copy",), ("copy", "semantic")]


def test_records_status_move_delete(store):
    r = record()
    store.put_video(r)
    store.upsert_frames(r.frame_payload(), *frames(3))
    store.set_status(r.video_id, "complete", frames=3, fingerprint="AAAA")
    got = store.get_video(r.video_id)
    assert got.status == "complete" and got.frames == 3 and got.fingerprint is None  # not fetched
    assert store.get_video(r.video_id, with_fingerprint=True).fingerprint == "AAAA"
    store.move_video(r.video_id, "/new/place.mp4")
    assert [v.path for v in store.list_videos(path="/new/place.mp4")] == ["/new/place.mp4"]
    points, _ = store.client.scroll(store.frames, limit=10)
    assert {p.payload["path"] for p in points} == {"/new/place.mp4"}
    store.delete_video(r.video_id)
    assert store.get_video(r.video_id) is None and store.count_frames() == 0
    assert store.get_video("not-a-uuid") is None


def test_stats(store):
    store.put_video(record("a", "/a.mp4", "complete"))
    store.put_video(record("b", "/b.mp4", "failed"))
    s = store.stats()
    assert (s["videos"], s["complete"], s["failed"]) == (2, 1, 1)


def test_persists_across_reopen(tmp_path):
    s = VideoStore.open(QdrantSettings(), tmp_path / "q", semantic_dim=8)
    r = record()
    s.put_video(r)
    s.upsert_frames(r.frame_payload(), *frames(3))
    s.close()
    again = VideoStore.open(QdrantSettings(), tmp_path / "q", semantic_dim=8)
    assert again.get_video(r.video_id).path == r.path and again.count_frames() == 3
    again.close()


def test_one_process_per_folder_and_dim_mismatch(tmp_path, store):
    with pytest.raises(StoreBusy, match="open in another process"):
        VideoStore.open(QdrantSettings(lock_wait_s=0.5), tmp_path / "q", semantic_dim=8)
    store.close()
    reopened = VideoStore.open(QdrantSettings(), tmp_path / "q", semantic_dim=16)
    assert reopened.vector_size() == 8  # the collection decides for readers
    with pytest.raises(StoreError, match="holds 8-d semantic vectors but 'clip' gives 16-d"):
        reopened.check_semantic_size(16, "clip")
    reopened.close()


def test_unreachable_server_is_a_clear_error(tmp_path):
    settings = QdrantSettings(url="http://127.0.0.1:9", timeout_s=2)
    with pytest.raises(StoreUnavailable, match="cannot reach Qdrant at http://127.0.0.1:9"):
        VideoStore.open(settings, tmp_path, semantic_dim=8)
