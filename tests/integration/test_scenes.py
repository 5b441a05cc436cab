"""Scenes and copies over real HTTP: the shared videos indexed with shot detection and copies
looked for, as `make run` does."""

from __future__ import annotations

import itertools
import subprocess

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BBB = ("bbb_opening_480p_30s.mp4", "bbb_opening_720p_30s.webm")
APOLLO = ("apollo_lunar_surface_mjpeg.mov", "apollo_lunar_surface_vp9.mp4")


def video_id(service, name: str) -> str:
    return next(v["video_id"] for v in service.client.get("/videos").json()["videos"] if v["path"].endswith("/" + name))


def test_the_shared_pairs_are_the_only_copies(service):
    body = service.client.get("/duplicates").json()
    named = [sorted(v["path"].rsplit("/", 1)[1] for v in g["videos"]) for g in body["groups"]]
    assert sorted(named) == sorted([sorted(APOLLO), sorted(BBB)]), named
    complete = [v for v in service.client.get("/videos").json()["videos"] if v["status"] == "complete"]
    assert body["unchecked"] == 0 and body["videos"] == len(complete) >= len(service.videos)
    for group in body["groups"]:
        [pair] = group["pairs"]
        assert pair["relation"] == "same" and pair["score"] > 0.8
        assert abs(pair["offset_s"]) <= 1 and pair["a_end_s"] - pair["a_start_s"] > 20


def test_a_video_lists_its_scenes_and_each_opens_where_the_last_ends(service):
    vid = video_id(service, BBB[1])
    body = service.client.get(f"/videos/{vid}/scenes").json()
    assert body["detected"] and len(body["scenes"]) >= 3, body
    scenes = body["scenes"]
    assert scenes[0]["start_s"] == 0 and scenes[0]["opens_with"] == "start"
    for before, after in itertools.pairwise(scenes):
        assert before["end_s"] == after["start_s"] and after["opens_with"] in ("cut", "gradual")
    assert service.client.get(scenes[1]["thumbnail_url"]).headers["content-type"] == "image/jpeg"
    assert service.client.get("/videos/not-a-video/scenes").status_code == 404


def test_search_by_scene_gives_one_result_per_scene(service):
    body = service.client.get("/search", params={"q": "a bunny in a meadow", "k": 20, "group": "scene",
                                                 "source": "visual", "copies": "show"}).json()
    results = body["results"]
    assert results
    seen = set()
    for r in results:
        span = r["scene"]
        assert span is not None and span["start_s"] <= r["timestamp_s"] < span["end_s"] + 1e-6, r
        assert (r["video_id"], span["index"]) not in seen
        seen.add((r["video_id"], span["index"]))
    plain = service.client.get("/search", params={"q": "a bunny in a meadow", "k": 20, "source": "visual",
                                                  "copies": "show"}).json()["results"]
    assert all(r["scene"] is None for r in plain)


def test_copies_fold_into_one_result_naming_the_other(service, tmp_path):
    frame = tmp_path / "frame.png"
    source = service.library / BBB[0]
    subprocess.run(["ffmpeg", "-v", "error", "-ss", "18", "-i", str(source), "-frames:v", "1", str(frame)], check=True)

    def search(copies):
        with frame.open("rb") as f:
            answer = service.client.post("/search/image", params={"k": 5, "copies": copies},
                                         files={"file": ("frame.png", f, "image/png")})
        return answer.json()["results"]

    shown = search("show")
    assert {r["path"].rsplit("/", 1)[1] for r in shown[:2]} == set(BBB), shown[:2]
    hidden = search("hide")
    top = hidden[0]
    assert top["path"].rsplit("/", 1)[1] in BBB and len(top["copies"]) == 1
    other = top["copies"][0]
    assert other["path"].rsplit("/", 1)[1] in BBB and other["path"] != top["path"]
    assert abs(other["timestamp_s"] - top["timestamp_s"]) <= 1
    assert not any(r["path"] == other["path"] and abs(r["timestamp_s"] - other["timestamp_s"]) <= 3 for r in hidden)


def test_more_like_this_scene_finds_it_in_the_copy_unless_copies_are_hidden(service):
    vid, copy = video_id(service, BBB[1]), video_id(service, BBB[0])
    scenes = service.client.get(f"/videos/{vid}/scenes").json()["scenes"]
    anchor = max(scenes, key=lambda s: s["end_s"] - s["start_s"])
    shown = service.client.post("/search/scene", json={"video_id": vid, "scene": anchor["index"], "copies": "show"}).json()
    assert shown["anchor"]["index"] == anchor["index"] and shown["anchor"]["searched"] == "semantic"
    top = shown["results"][0]
    assert top["video_id"] == copy and abs(top["timestamp_s"] - (anchor["start_s"] + anchor["end_s"]) / 2) <= \
        (anchor["end_s"] - anchor["start_s"]) / 2 + 1, (anchor, top)
    assert not any(r["video_id"] == vid and anchor["start_s"] <= r["timestamp_s"] < anchor["end_s"]
                   for r in shown["results"])
    hidden = service.client.post("/search/scene", json={"video_id": vid, "scene": anchor["index"]}).json()["results"]
    assert not any(r["video_id"] == copy and r["scene"]["index"] == top["scene"]["index"] for r in hidden)
    by_second = service.client.post("/search/scene", json={"video_id": vid, "second": anchor["start_s"] + 0.5}).json()
    assert by_second["anchor"]["index"] == anchor["index"]


@pytest.mark.parametrize("body, status, words", [
    ({"video_id": "x", "scene": 0}, 404, "no video"),
    ({"scene": 0}, 422, "video_id"),
    ({"video_id": "{bbb}", "scene": 0, "second": 1}, 422, "either"),
    ({"video_id": "{bbb}"}, 422, "either"),
    ({"video_id": "{bbb}", "scene": 999}, 404, "not 999"),
    ({"video_id": "{bbb}", "second": 999}, 404, "outside"),
])
def test_a_scene_search_that_cannot_be_done_says_why(service, body, status, words):
    if body.get("video_id") == "{bbb}":
        body = {**body, "video_id": video_id(service, BBB[0])}
    answer = service.client.post("/search/scene", json=body)
    assert answer.status_code == status and words in answer.json()["error"], answer.text
