"""Scenes as results: one result per scene, the scene a "more like this" starts from, and the
scenes most like it in a real store (both engines)."""

import numpy as np
import pytest

from tests.unit.test_store import META, record
from vidsearch.embedders.copy import DIM
from vidsearch.results import Moment
from vidsearch.scenes import NoSuchScene, anchor_span, group_by_scene, scene_at
from vidsearch.search import similar_scenes
from vidsearch.store.records import Scene

SCENES = [Scene(start_s=0, end_s=4, frame=2, opens_with="start"), Scene(start_s=4, end_s=10, frame=7, opens_with="cut"),
          Scene(start_s=10, end_s=12, frame=11, opens_with="gradual")]


def moment(video, second, score):
    return Moment(video_id=video, path=f"/v/{video}.mp4", timestamp_s=second, score=score, matched=["visual"])


def test_scene_at_finds_the_scene_of_a_second():
    assert [scene_at(SCENES, t) for t in (0, 3.99, 4, 9.5, 10, 11.9, 30)] == [0, 0, 1, 1, 2, 2, 2]
    assert scene_at(SCENES, -1) is None


def test_one_result_per_scene_best_first_with_its_span_and_count():
    ranked = [moment("a", 5, 0.9), moment("a", 8, 0.8), moment("b", 1, 0.7), moment("a", 1, 0.6),
              moment("a", 9.5, 0.5), moment("a", 11, 0.4)]
    grouped = group_by_scene(ranked, lambda vid: (SCENES, 1.0) if vid == "a" else None)
    assert [(g.video_id, g.timestamp_s) for g in grouped] == [("a", 5), ("b", 1), ("a", 1), ("a", 11)]
    first = grouped[0].scene
    assert (first.index, first.start_s, first.end_s, first.moments) == (1, 4, 10, 3)
    assert first.thumbnail_url == "/videos/a/thumbnail?t=7.000"
    assert grouped[1].scene is None  # b has no scenes: its moment stands alone
    assert [g.scene.moments for g in (grouped[2], grouped[3])] == [1, 1]


def test_the_anchor_is_a_scene_by_index_or_by_second():
    r = record(status="complete", meta=META.model_copy(update={"duration_s": 12.0}))
    r.scenes = SCENES
    assert anchor_span(r, 1, None) == (1, 4, 10)
    assert anchor_span(r, None, 10.5) == (2, 10, 12)
    with pytest.raises(NoSuchScene, match="scenes 0-2, not 3"):
        anchor_span(r, 3, None)
    with pytest.raises(NoSuchScene, match="outside the video"):
        anchor_span(r, None, 13)
    r.scenes = None
    assert anchor_span(r, None, 5) == (None, 3, 7)
    with pytest.raises(NoSuchScene, match="without shot detection"):
        anchor_span(r, 0, None)


def test_similar_scenes_finds_the_look_alike_scene_and_leaves_the_anchor_out(store):
    """Video a: scene 1 (seconds 4-9) looks like video b's scene 0 (0-2), nothing else does; the
    anchor's own seconds never come back, and b's scene is one result, not three."""
    rng = np.random.default_rng(5)
    look = rng.normal(size=8).astype(np.float32)
    videos = {}
    for name, n, alike in (("a", 12, range(4, 10)), ("b", 6, range(3)), ("c", 6, ())):
        r = record(checksum=name, path=f"/v/{name}.mp4", status="complete")
        r.scenes = SCENES if name == "a" else [Scene(start_s=0, end_s=3, frame=1, opens_with="start"),
                                               Scene(start_s=3, end_s=6, frame=4, opens_with="cut")]
        r.sampling_fps = 1.0
        store.put_video(r)
        sem = rng.normal(size=(n, 8)).astype(np.float32)
        for i in alike:
            sem[i] = look + 0.05 * rng.normal(size=8)
        copy = rng.normal(size=(n, DIM)).astype(np.float32)
        store.upsert_frames(r.frame_payload(), np.arange(n), np.arange(n, dtype=np.float32), copy, sem)
        videos[name] = r.video_id
    found = similar_scenes(store, videos["a"], 4, 10, k=5, using="semantic")
    assert found[0].video_id == videos["b"] and found[0].scene.index == 0 and found[0].scene.moments == 1
    assert found[0].score > 0.9 > max(f.score for f in found[1:])
    assert not any(f.video_id == videos["a"] and 4 <= f.timestamp_s < 10 for f in found)
    assert len({(f.video_id, f.scene.index) for f in found}) == len(found)
