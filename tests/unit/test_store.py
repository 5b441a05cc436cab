"""The store contract, on both implementations (`store` is parametrised in tests/conftest.py)."""

import numpy as np
import pytest
from qdrant_client import models

from tests.conftest import open_test_store
from vidsearch.config import QdrantSettings, Settings
from vidsearch.embedders.copy import DIM
from vidsearch.filters import SearchFilters
from vidsearch.media.probe import VideoMetadata
from vidsearch.store import StoreBusy, StoreError, StoreUnavailable, VideoRecord, ids, open_store
from vidsearch.store.migrate import copy_store
from vidsearch.text.segments import TextSegment, Word

META = VideoMetadata(
    container="mov,mp4", duration_s=3.0, width=320, height=240, coded_width=320, coded_height=240,
    fps=25, variable_frame_rate=False, video_codec="h264",
)


def record(checksum="abc", path="/v/a.mp4", status="indexing", meta=META):
    return VideoRecord(
        video_id=ids.video_id(checksum), path=path, checksum=checksum, size_bytes=10, status=status, metadata=meta
    )


def frames(n, dim=8, seed=0):
    rng = np.random.default_rng(seed)
    return np.arange(n), np.arange(n, dtype=np.float32), rng.normal(size=(n, DIM)).astype(np.float32), rng.normal(size=(n, dim)).astype(np.float32)


def test_ids_are_deterministic():
    assert ids.video_id("x") == ids.video_id("x") != ids.video_id("y")
    assert ids.frame_id("v", 1) == ids.frame_id("v", 1) != ids.frame_id("v", 2)
    assert ids.is_uuid(ids.video_id("x")) and not ids.is_uuid("not-a-uuid")


def test_rewriting_frames_never_duplicates(store):
    r = record()
    store.put_video(r)
    idx, sec, copy, sem = frames(5)
    store.upsert_frames(r.frame_payload(), idx, sec, copy, sem)
    store.upsert_frames(r.frame_payload(), idx, sec, copy, sem)
    assert store.count_frames(r.video_id) == 5 == store.count_frames()


def test_frames_without_semantic_vectors_are_not_searched_semantically(store):
    r = record()
    idx, sec, copy, sem = frames(4)
    store.upsert_frames(r.frame_payload(), idx, sec, copy, sem, np.array([True, False, True, False]))
    hits, vectors = store.search(sem[1], "semantic", 10)
    assert sorted(h.frame_index for h in hits) == [0, 2] and vectors.shape == (2, 8)
    seconds, copies = store.frame_vectors(r.video_id, "copy")
    assert seconds.tolist() == [0, 1, 2, 3] and copies.shape == (4, DIM)


def test_search_finds_the_nearest_frame_with_its_vector(store):
    r = record()
    idx, sec, copy, sem = frames(20, seed=3)
    store.upsert_frames(r.frame_payload(), idx, sec, copy, sem)
    hits, vectors = store.search(sem[7], "semantic", 3)
    assert hits[0].frame_index == 7 and hits[0].video_id == r.video_id and hits[0].path == r.path
    assert hits[0].score == pytest.approx(1.0, abs=1e-2)
    # Cosine stores unit vectors: the hit's vector is the query's direction.
    unit = sem[7] / np.linalg.norm(sem[7])
    assert np.allclose(vectors[0], unit, atol=1e-2)
    assert [h.frame_index for h in store.search(copy[4], "copy", 1)[0]] == [4]


def test_scores_are_exact_so_re_ranking_changes_nothing(store):
    """The store's claim `exact_scores`: its scores are the inner products of the query with the
    stored vectors, so the moments come out the same without the exact re-rank as with it."""
    from vidsearch.search import moments

    assert store.exact_scores
    rng = np.random.default_rng(11)
    for v in range(3):
        r = record(checksum=f"exact{v}", path=f"/v/exact{v}.mp4", status="complete")
        store.put_video(r)
        idx, sec, copy, sem = frames(40, dim=8, seed=20 + v)
        store.upsert_frames(r.frame_payload(), idx, sec * 3, copy, sem)
    query = rng.normal(size=8).astype(np.float32)
    query /= np.linalg.norm(query)
    plain, none = store.search(query, "semantic", 30, with_vectors=False)
    hits, vectors = store.search(query, "semantic", 30)
    assert none is None and [h.frame_index for h in plain] == [h.frame_index for h in hits]
    np.testing.assert_allclose([h.score for h in hits], vectors @ query, atol=2e-3)
    fast = moments(store, query, 10, SearchFilters(), group=False)
    store.exact_scores = False  # as on a quantised server collection: fetch the vectors, re-rank
    reranked = moments(store, query, 10, SearchFilters(), group=False)
    assert [(m.video_id, m.timestamp_s) for m in fast] == [(m.video_id, m.timestamp_s) for m in reranked]
    np.testing.assert_allclose([m.score for m in fast], [m.score for m in reranked], atol=2e-3)


def test_search_filters(store):
    short = record("a", "/lib/cats/a.mp4", meta=META)
    long = record("b", "/lib/dogs/b.mp4", meta=META.model_copy(update={"duration_s": 100.0, "height": 1080, "video_codec": "vp9"}))
    for r, seed in ((short, 1), (long, 2)):
        store.upsert_frames(r.frame_payload(), *frames(5, seed=seed))
    query = frames(5, seed=2)[3][0]

    def videos(**f):
        hits, _ = store.search(query, "semantic", 20, SearchFilters(**f).to_qdrant())
        return {h.video_id for h in hits}

    assert videos() == {short.video_id, long.video_id}
    assert videos(path_prefix="/lib/cats/") == {short.video_id}
    assert videos(path_prefix="/lib") == {short.video_id, long.video_id}
    assert videos(min_duration_s=50) == {long.video_id}
    assert videos(max_duration_s=50) == {short.video_id}
    assert videos(min_height=720) == {long.video_id}
    assert videos(codec="VP9") == {long.video_id}
    assert videos(video_id=short.video_id) == {short.video_id}
    assert videos(path_prefix="/elsewhere") == set()


def test_records_status_move_delete(store):
    r = record()
    store.put_video(r)
    store.upsert_frames(r.frame_payload(), *frames(3))
    store.set_status(r.video_id, "complete", frames=3, fingerprint="AAAA")
    got = store.get_video(r.video_id)
    assert got.status == "complete" and got.frames == 3 and got.fingerprint is None  # not fetched
    assert got.metadata == META
    assert store.get_video(r.video_id, with_fingerprint=True).fingerprint == "AAAA"
    assert store.list_videos()[0].fingerprint is None
    store.move_video(r.video_id, "/new/place.mp4")
    assert [v.path for v in store.list_videos(path="/new/place.mp4")] == ["/new/place.mp4"]
    hits, _ = store.search(frames(3)[3][0], "semantic", 10)
    assert {h.path for h in hits} == {"/new/place.mp4"}
    hits, _ = store.search(frames(3)[3][0], "semantic", 10, SearchFilters(path_prefix="/new").to_qdrant())
    assert len(hits) == 3
    store.delete_video(r.video_id)
    assert store.get_video(r.video_id) is None and store.count_frames() == 0
    assert store.get_video("not-a-uuid") is None


def test_list_by_status_and_versions(store):
    done, failed = record("a", "/a.mp4", "complete"), record("b", "/b.mp4", "failed")
    store.put_video(done)
    store.put_video(failed)
    assert [r.path for r in store.list_videos(status="complete")] == ["/a.mp4"]
    versions = store.complete_versions()
    assert list(versions) == [done.video_id] and versions[done.video_id] == pytest.approx(done.updated_at)
    s = store.stats()
    assert (s.videos, s.complete, s.failed, s.frames) == (2, 1, 1, 0)


def test_copy_pages_are_one_pass_over_the_chosen_videos(store):
    chosen, other = record("a", "/a.mp4"), record("b", "/b.mp4")
    store.upsert_frames(chosen.frame_payload(), *frames(50, seed=1))
    store.upsert_frames(other.frame_payload(), *frames(30, seed=2))
    rows, offset, pages = {}, None, 0
    while True:
        page = store.copy_page([chosen.video_id], offset, limit=16)
        pages += 1
        assert set(page.video_ids) <= {chosen.video_id}
        for second, vector in zip(page.seconds, page.vectors):
            rows[float(second)] = vector
        offset = page.next_offset
        if offset is None:
            break
    assert sorted(rows) == list(range(50)) and pages == 4  # 16 + 16 + 16 + 2
    expected = frames(50, seed=1)[2]
    assert np.allclose(rows[7], expected[7] / np.linalg.norm(expected[7]), atol=1e-5)


def test_persists_across_reopen(store, tmp_path):
    r = record()
    store.put_video(r)
    store.upsert_frames(r.frame_payload(), *frames(3))
    engine = "edge" if store.engine == "edge" else "server-standin"
    store.close()
    again = open_test_store(engine, tmp_path / "store")
    assert again.get_video(r.video_id).path == r.path and again.count_frames() == 3
    again.close()
    store.close = lambda: None  # closed already


def test_edge_admits_one_process_and_keeps_its_vector_size(tmp_path):
    first = open_test_store("edge", tmp_path / "e")
    with pytest.raises(StoreBusy, match="open in another process"):
        open_test_store("edge", tmp_path / "e", lock_wait_s=0.5)
    first.close()
    reopened = open_test_store("edge", tmp_path / "e", semantic_dim=16)
    assert reopened.vector_size() == 8  # the store decides for readers
    with pytest.raises(StoreError, match="holds 8-d semantic vectors but 'clip' gives 16-d"):
        reopened.check_semantic_size(16, "clip")
    reopened.close()


def test_open_store_follows_the_settings(tmp_path):
    s = open_store(Settings(data_dir=tmp_path))
    assert s.engine == "edge" and (tmp_path / "edge").is_dir()
    s.close()
    with pytest.raises(StoreUnavailable, match="cannot reach Qdrant at http://127.0.0.1:9"):
        open_store(Settings(data_dir=tmp_path, qdrant=QdrantSettings(url="http://127.0.0.1:9", timeout_s=2)))


@pytest.mark.parametrize("direction", ["edge-to-server", "server-to-edge"])
def test_copy_store_keeps_every_point(tmp_path, direction):
    source_engine, target_engine = ("edge", "server-standin") if direction == "edge-to-server" else ("server-standin", "edge")
    source = open_test_store(source_engine, tmp_path / "src")
    r = record(status="complete")
    store_frames = frames(6)
    source.put_video(r)
    source.set_status(r.video_id, "complete", frames=6, fingerprint="AAAA")
    source.upsert_frames(r.frame_payload(), *store_frames, np.array([True] * 5 + [False]))
    source.replace_texts(r.frame_payload(), "speech", "speech", [TextSegment(1.0, 2.0, "the crown jewels")], "en")
    target = open_test_store(target_engine, tmp_path / "dst")
    summary = copy_store(source, target)
    summary_again = copy_store(source, target)  # repeatable: ids are kept
    assert (summary.videos, summary.frames, summary.texts) == (1, 6, 1)
    assert (summary_again.videos, summary_again.frames, summary_again.texts) == (1, 6, 1)
    assert [h.segment.text for h in target.search_texts("jewel", 5)] == ["the crown jewels"]
    assert target.count_frames() == 6 and target.get_video(r.video_id, with_fingerprint=True).fingerprint == "AAAA"
    assert [h.frame_index for h in target.search(store_frames[3][2], "semantic", 1)[0]] == [2]
    assert len(target.search(store_frames[3][2], "semantic", 10)[0]) == 5
    assert np.allclose(target.frame_vectors(r.video_id)[1], source.frame_vectors(r.video_id)[1], atol=1e-5)
    wrong = open_test_store("edge", tmp_path / "wrong", semantic_dim=16)
    with pytest.raises(StoreError, match="8-d semantic vectors and the target 16-d"):
        copy_store(source, wrong)
    for s in (source, target, wrong):
        s.close()


def test_edge_filters_translate_every_condition_vidsearch_builds():
    from vidsearch.store.edge import to_edge

    flt = models.Filter(
        must=[models.FieldCondition(key="a", match=models.MatchValue(value="x"))],
        should=[models.FieldCondition(key="b", match=models.MatchAny(any=["y", "z"]))],
        must_not=[models.FieldCondition(key="c", range=models.Range(gte=1, lt=2))],
    )
    assert to_edge(flt) is not None and to_edge(None) is None
    with pytest.raises(StoreError, match="cannot filter on"):
        to_edge(models.Filter(must=[models.IsEmptyCondition(is_empty=models.PayloadField(key="a"))]))


def test_a_local_mode_data_dir_migrates_on_open_with_the_same_answers(tmp_path):
    """Earlier releases kept qdrant-client's local mode in data_dir/qdrant, with these collections."""
    from qdrant_client import QdrantClient

    from vidsearch.store.migrate import MIGRATED_SUFFIX
    from vidsearch.store.server import ServerStore

    settings = Settings(data_dir=tmp_path)
    old = ServerStore(QdrantClient(path=str(tmp_path / "qdrant")), settings.qdrant, 8, indexes=False)
    videos = [record(c, f"/lib/{c}.mp4", "complete") for c in ("a", "b", "c")]
    for seed, r in enumerate(videos):
        old.put_video(r)
        old.upsert_frames(r.frame_payload(), *frames(40, seed=seed))
    query = frames(40, seed=1)[3][17]
    before = [(h.video_id, h.frame_index) for h in old.search(query, "semantic", 10)[0]]
    before_filtered = [(h.video_id, h.frame_index) for h in old.search(query, "semantic", 10, SearchFilters(path_prefix="/lib").to_qdrant())[0]]
    old_records = {r.video_id: r for r in old.list_videos()}
    old.close()

    store = open_store(settings)
    try:
        assert store.engine == "edge" and store.count_frames() == 120
        migrated = {r.video_id: r for r in store.list_videos()}
        assert migrated.keys() == old_records.keys()
        for video_id, r in migrated.items():  # Edge keeps payload floats to ~1e-7 relative
            assert r.model_dump(exclude={"updated_at"}) == old_records[video_id].model_dump(exclude={"updated_at"})
            assert r.updated_at == pytest.approx(old_records[video_id].updated_at, abs=1e-3)
        assert [(h.video_id, h.frame_index) for h in store.search(query, "semantic", 10)[0]] == before
        filtered = store.search(query, "semantic", 10, SearchFilters(path_prefix="/lib").to_qdrant())[0]
        assert [(h.video_id, h.frame_index) for h in filtered] == before_filtered
    finally:
        store.close()
    assert not (tmp_path / "qdrant").exists() and (tmp_path / f"qdrant{MIGRATED_SUFFIX}" / "collection").is_dir()
    again = open_store(settings)  # migrated once: the next open is a plain open
    assert again.count_frames() == 120
    again.close()


def test_text_segments_are_ranked_by_bm25_and_replaced_per_source(store):
    a, b = record("a", "/v/a.mp4"), record("b", "/v/b.mp4")
    store.put_video(a)
    said = [
        TextSegment(0.0, 3.0, "Welcome to the tower of London.", [Word("Welcome", 0.0, 0.5)]),
        TextSegment(3.0, 6.0, "Here the crown jewels are kept.", []),
    ]
    store.replace_texts(a.frame_payload(), "speech", "speech", said, "en")
    cue = [TextSegment(10.0, 12.0, "A jewel of a cake.")]
    store.replace_texts(b.frame_payload(), "file:/v/b.en.srt", "subtitle:en", cue, "en")
    hits = store.search_texts("crown jewels", 10)
    assert [(h.video_id, h.segment.start) for h in hits][:1] == [(a.video_id, 3.0)]
    assert {h.source for h in hits} == {"speech", "subtitle:en"}  # "jewel" is in both
    assert hits[0].score > hits[1].score
    phrase = store.search_texts("crown jewels", 10, phrase="crown jewels")
    assert [h.segment.text for h in phrase] == ["Here the crown jewels are kept."]
    assert store.search_texts("the of", 10) == []  # stop words alone rank nothing
    subtitles = models.Filter(must=[models.FieldCondition(key="kind", match=models.MatchValue(value="subtitle"))])
    assert [h.video_id for h in store.search_texts("jewel", 10, subtitles)] == [b.video_id]
    under_v = SearchFilters(path_prefix="/v", video_id=a.video_id).to_qdrant()
    assert [h.video_id for h in store.search_texts("jewel", 10, under_v)] == [a.video_id]
    assert [h.segment.words for h in store.texts_of(a.video_id)] == [[Word("Welcome", 0.0, 0.5)], []]

    store.replace_texts(a.frame_payload(), "speech", "speech", said[:1], "en")  # a new transcript replaces the old
    assert store.count_texts(a.video_id) == 1 and store.count_texts(b.video_id) == 1
    store.move_video(a.video_id, "/w/a.mp4")
    assert {h.path for h in store.texts_of(a.video_id)} == {"/w/a.mp4"}
    assert store.search_texts("welcome", 10, SearchFilters(path_prefix="/w").to_qdrant())
    store.delete_video(a.video_id)
    assert store.count_texts() == 1
