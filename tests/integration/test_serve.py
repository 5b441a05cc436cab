"""The Serve application over real HTTP: search, match, library routes and bad input."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from tests.integration.conftest import forget_folder, HELD_OUT, cut

pytestmark = [pytest.mark.integration, pytest.mark.slow]

def test_health_and_stats(service):
    client = service.client
    health = client.get("/health").json()
    assert health["capabilities"] == {
        "text_search": True, "words_search": True, "image_search": True, "clip_match": True, "audio_verification": True,
    }
    assert health["semantic_runtime"] == {"image": "onnx int8", "text": "onnx int8"}  # the CPU default
    stats = client.get("/stats").json()
    assert stats["videos"] == stats["complete"] >= len(service.videos)

LONG_S = 1200  # a job on it still writes for many seconds after its first batch (64 frames, the service's)


def test_image_of_a_frame_finds_its_video_and_second(service, tmp_path):
    client, library = service.client, service.library
    source = library / "tears_of_steel_battle_clip.webm"
    frame = tmp_path / "frame.png"
    subprocess.run(["ffmpeg", "-v", "error", "-ss", "41", "-i", str(source), "-frames:v", "1", str(frame)], check=True)
    body = client.post("/search/image", files={"file": ("frame.png", frame.read_bytes(), "image/png")}).json()
    top = body["results"][0]
    assert Path(top["path"]).name == source.name and abs(top["timestamp_s"] - 41) <= 1
    thumb = client.get(top["thumbnail_url"])
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"


def test_text_search_shape_and_filters(service):
    client = service.client
    body = client.get("/search", params={"q": "a birthday cake", "k": 5}).json()
    assert len(body["results"]) == 5
    assert {"video_id", "path", "timestamp_s", "score", "thumbnail_url", "matched", "scores"} <= set(body["results"][0])
    short = client.get("/search", params={"q": "a dog", "k": 20, "max_duration_s": 10}).json()["results"]
    long_ids = {v["video_id"] for v in client.get("/videos").json()["videos"] if v["metadata"]["duration_s"] > 10}
    assert short and not {r["video_id"] for r in short} & long_ids
    grouped = client.get("/search", params={"q": "a car", "k": 10, "group": "video"}).json()["results"]
    assert len({r["video_id"] for r in grouped}) > 1
    vp9 = client.get("/search", params={"q": "moon", "codec": "vp9", "k": 10}).json()["results"]
    assert vp9 and all(client.get(f"/videos/{r['video_id']}").json()["metadata"]["video_codec"] == "vp9" for r in vp9)


def test_clip_matches_its_source_with_audio(service, tmp_path):
    client, library = service.client, service.library
    clip = cut(library / "tears_of_steel_battle_clip.webm", tmp_path / "clip.mp4", start=30, seconds=20)
    body = client.post("/match", files={"file": ("clip.mp4", clip.read_bytes(), "video/mp4")}).json()
    best = body["matches"][0]
    assert Path(best["path"]).name == "tears_of_steel_battle_clip.webm"
    assert abs(best["source_start_s"] - 30) <= 1 and abs(best["source_end_s"] - 50) <= 1.5
    assert best["audio"]["verified"] and abs(best["audio"]["offset_s"] - 30) <= 1
    edl = client.get("/export", params={"id": body["export_id"], "format": "edl"})
    assert edl.status_code == 200 and "tears_of_steel_battle_clip.webm" in edl.text


def test_clip_from_two_sources(service, tmp_path):
    client, library = service.client, service.library
    a = cut(library / "tears_of_steel_battle_clip.webm", tmp_path / "a.mp4", 10, 8, "scale=480:270,setsar=1")
    b = cut(library / "people_walking_one_by_one.mp4", tmp_path / "b.mp4", 60, 8, "scale=480:270,setsar=1")
    both = tmp_path / "both.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(a), "-i", str(b), "-filter_complex",
         "[0:v]fps=25,setpts=PTS-STARTPTS[a];[1:v]fps=25,setpts=PTS-STARTPTS[b];[a][b]concat=n=2:v=1:a=0[v]",
         "-map", "[v]", "-t", "16", "-c:v", "libx264", "-preset", "veryfast", str(both)],
        check=True,
    )
    matches = client.post("/match", files={"file": ("both.mp4", both.read_bytes(), "video/mp4")}).json()["matches"]
    found = {Path(m["path"]).name: m for m in matches}
    assert {"tears_of_steel_battle_clip.webm", "people_walking_one_by_one.mp4"} <= set(found)
    assert abs(found["tears_of_steel_battle_clip.webm"]["source_start_s"] - 10) <= 1
    assert abs(found["people_walking_one_by_one.mp4"]["source_start_s"] - 60) <= 1
    assert found["people_walking_one_by_one.mp4"]["query_start_s"] >= 6


def test_clip_of_an_unindexed_video_matches_nothing(service, shared_videos, tmp_path):
    client = service.client
    clip = cut(shared_videos / HELD_OUT, tmp_path / "neg.mp4", start=5, seconds=15)
    assert client.post("/match", files={"file": ("neg.mp4", clip.read_bytes(), "video/mp4")}).json()["matches"] == []


@pytest.mark.parametrize(
    "request_args, status, words",
    [
        (("GET", "/search", {"params": {"q": "   "}}), 422, "empty"),
        (("GET", "/search", {"params": {"q": "x" * 10_000}}), 422, "at most 1000"),
        (("GET", "/search", {"params": {"q": "cat", "k": 1000}}), 422, "k"),
        (("POST", "/match", {"files": {"file": ("a.mp4", b"", "video/mp4")}}), 422, "empty"),
        (("POST", "/match", {"files": {"file": ("a.mp4", b"plain text, not a video" * 10, "video/mp4")}}), 422, "not a video"),
        (("POST", "/match", {"files": {"file": ("a.mp4", b"\x00" * (6 * 2**20), "video/mp4")}}), 413, "larger than 5 MB"),
        (("POST", "/search/image", {"files": {"file": ("a.png", b"nope", "image/png")}}), 422, "not an image"),
        (("GET", "/videos/0000", {}), 404, "no video"),
        (("GET", "/export", {"params": {"id": "unknown"}}), 404, "no recent result set"),
        (("DELETE", "/videos/0000", {}), 401, "API key"),
    ],
)
def test_bad_input_gets_a_clear_4xx(service, request_args, status, words):
    client = service.client
    method, path, kwargs = request_args
    response = client.request(method, path, **kwargs)
    assert response.status_code == status
    assert words in response.json()["error"]
    assert client.get("/health").status_code == 200  # and the service stays up


def test_truncated_clip_and_clip_without_audio(service, tmp_path):
    client, library = service.client, service.library
    whole = cut(library / "tears_of_steel_battle_clip.webm", tmp_path / "whole.mp4", 20, 10)
    cut_short = whole.read_bytes()[: whole.stat().st_size // 2]
    response = client.post("/match", files={"file": ("half.mp4", cut_short, "video/mp4")})
    assert response.status_code == 422 and "error" in response.json()
    mute = tmp_path / "mute.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(whole), "-an", "-c", "copy", str(mute)], check=True)
    matches = client.post("/match", files={"file": ("mute.mp4", mute.read_bytes(), "video/mp4")}).json()["matches"]
    assert matches and matches[0]["audio"] is None  # unknown, not a mismatch


def test_stream_supports_ranges_and_delete_needs_the_key(service):
    client = service.client
    videos = client.get("/videos").json()["videos"]
    target = next(v for v in videos if v["path"].endswith("asl_sign_book.mkv"))
    part = client.get(f"/videos/{target['video_id']}/stream", headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and len(part.content) == 100
    gone = client.delete(f"/videos/{target['video_id']}", headers={"X-API-Key": "secret"})
    assert gone.status_code == 200
    assert client.get(f"/videos/{target['video_id']}").status_code == 404
    assert client.get("/stats").json()["videos"] == len(videos) - 1



def test_a_killed_replica_gives_answers_or_a_clear_503_and_the_service_recovers(service):
    """Searches from eight clients while the Reranker's replica is killed: each gets its answer or a
    503 that says to try again, none hangs or gets a 500, and searches work again by themselves."""
    import threading

    import httpx
    import ray

    statuses: list[int] = []
    stop = threading.Event()

    def client():
        with httpx.Client(base_url=service.url, timeout=60) as c:
            while not stop.is_set():
                statuses.append(c.get("/search", params={"q": "a street", "k": 3, "source": "visual"}).status_code)

    threads = [threading.Thread(target=client) for _ in range(8)]
    for t in threads:
        t.start()
    time.sleep(2)
    replicas = [a for a in ray.util.list_named_actors(all_namespaces=True) if "#Reranker#" in a["name"]
                and "SERVE_REPLICA" in a["name"] and "default" in a["name"]]
    assert replicas, ray.util.list_named_actors(all_namespaces=True)
    for replica in replicas:
        ray.kill(ray.get_actor(replica["name"], namespace=replica["namespace"]), no_restart=True)
    time.sleep(8)
    stop.set()
    for t in threads:
        t.join(timeout=90)
        assert not t.is_alive(), "a client hung"
    assert set(statuses) <= {200, 503}, sorted(set(statuses))
    deadline = time.monotonic() + 120
    while service.client.get("/search", params={"q": "a street", "source": "visual"}).status_code != 200:
        assert time.monotonic() < deadline, "the service did not recover"
        time.sleep(2)


def test_the_store_owner_killed_mid_job_fails_the_job_clearly_and_loses_nothing(service):
    """The embedded store's owner dies while an index job writes: the job fails with a reason (or,
    with no call in flight, goes on whole), no video is marked complete that is not, the owner comes
    back, and a re-run completes."""
    import ray

    from batch_jobs.cluster import NAMESPACE, owner_name
    from tests.conftest import make_video
    from vidsearch.config import load_settings

    client, headers = service.client, {"X-API-Key": "secret"}
    folder = service.library / "zz_owner"
    folder.mkdir()
    try:
        long = make_video(folder / "long.mp4", seconds=LONG_S, size=(160, 120), fps=2)
        job_id = client.post("/index", json={"paths": [str(long)]}, headers=headers).json()["job"]["job_id"]

        def job():
            return next(j for j in client.get("/jobs").json()["jobs"] if j["job_id"] == job_id)

        deadline = time.monotonic() + 300
        while job()["progress"]["frames_done"] == 0:
            assert time.monotonic() < deadline and job()["state"] == "running", job()
            time.sleep(0.5)
        settings = load_settings(service.config)
        ray.kill(ray.get_actor(owner_name(settings), namespace=NAMESPACE), no_restart=False)

        deadline = time.monotonic() + 300
        while True:  # the service answers again once the owner is back: meanwhile, 503s
            answer = client.get("/jobs")
            assert answer.status_code in (200, 503) and time.monotonic() < deadline, answer.text
            if answer.status_code == 200 and job()["state"] != "running":
                break
            time.sleep(1)
        ended = job()
        # A job with no store call in flight when the owner dies goes on with the restarted owner
        # (a fast machine can also finish between the poll and the kill): then it must be whole.
        assert ended["state"] in ("failed", "done"), ended
        if ended["state"] == "failed":
            assert "store" in ended["error"], ended
        for video in client.get("/videos").json()["videos"]:
            if "/zz_owner/" in video["path"]:
                assert video["status"] != "complete" or video["frames"] == LONG_S, video
                assert ended["state"] == "failed" or video["status"] == "complete", (ended, video)

        job_id = client.post("/index", json={"paths": [str(long)]}, headers=headers).json()["job"]["job_id"]
        deadline = time.monotonic() + 600
        while job()["state"] == "running":
            assert time.monotonic() < deadline
            time.sleep(2)
        assert job()["state"] == "done"
        [video] = [v for v in client.get("/videos").json()["videos"] if "/zz_owner/" in v["path"]]
        assert video["status"] == "complete" and video["frames"] == LONG_S
    finally:
        forget_folder(service, folder)
