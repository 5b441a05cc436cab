"""The indexing job end to end: real Ray, real Qdrant (local mode), real files, the real CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import TINY_DIM, make_video, rotate_video
from vidsearch.media.frames import sample_times

pytestmark = [pytest.mark.integration, pytest.mark.slow]

VIDSEARCH = str(Path(sys.executable).with_name("vidsearch"))


def run_cli(*args, env=None, timeout=300):
    full_env = {**os.environ, "RAY_ADDRESS": "", **(env or {})}
    return subprocess.run([VIDSEARCH, *args], capture_output=True, text=True, env=full_env, timeout=timeout)


def index(folder, data_dir, env=None):
    done = run_cli("index", str(folder), "--data-dir", str(data_dir), "--json", env=env)
    assert done.stdout.strip(), done.stderr
    return done.returncode, json.loads(done.stdout), done.stderr


def store_of(data_dir):
    from vidsearch.config import QdrantSettings
    from vidsearch.store.edge import EdgeStore

    # After a killed job, its Ray workers (one holds the store) take a few seconds to exit.
    return EdgeStore.open(QdrantSettings(lock_wait_s=60), Path(data_dir) / "edge", semantic_dim=TINY_DIM)


@pytest.fixture(scope="module")
def mixed_folder(tmp_path_factory):
    """Good videos of several kinds beside broken files, as a real upload folder looks."""
    root = tmp_path_factory.mktemp("mixed")
    make_video(root / "good_h264.mp4", seconds=6, source="testsrc2")
    make_video(root / "no_audio.mp4", seconds=5, source="mandelbrot", audio=False)
    make_video(root / "vp9.webm", seconds=4, source="life", codec=["-c:v", "libvpx-vp9", "-deadline", "realtime", "-b:v", "300k"])
    (root / "sub").mkdir()
    make_video(root / "sub" / "matroska.mkv", seconds=4, source="cellauto")
    landscape = make_video(root / "landscape.tmp.mp4", seconds=3, size=(320, 180), source="testsrc2", audio=False,
                           extra=["-vf", "hflip"])
    rotate_video(landscape, root / "rotated_phone.mp4")
    landscape.unlink()
    (root / "zero_bytes.mp4").write_bytes(b"")
    (root / "text_named.mp4").write_text("this is not a video\n" * 50)
    whole = make_video(root / "whole.tmp.mp4", seconds=8, source="mandelbrot", size=(480, 270))
    (root / "truncated.mp4").write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])  # moov at the end
    whole.unlink()
    return root


@pytest.fixture(scope="module")
def semantic_env(tiny_model_dir):
    return {"VIDSEARCH_SEMANTIC__MODEL": str(tiny_model_dir)}  # its size comes from its config


def test_mixed_folder_indexes_good_reports_bad(mixed_folder, tmp_path, semantic_env):
    code, summary, _ = index(mixed_folder, tmp_path, semantic_env)
    assert code == 3  # some files failed
    assert summary["indexed"] == 5
    reasons = {Path(f["path"]).name: f["reason"] for f in summary["failed"]}
    assert set(reasons) == {"zero_bytes.mp4", "text_named.mp4", "truncated.mp4"}
    assert "empty file" in reasons["zero_bytes.mp4"]
    assert "not a video" in reasons["text_named.mp4"]
    assert "moov atom" in reasons["truncated.mp4"] and "cut short" in reasons["truncated.mp4"]
    frames = summary["frames"]
    assert 6 + 5 + 4 + 4 + 3 <= frames <= 6 + 5 + 4 + 4 + 3 + 5  # a tail second where audio runs longer
    assert summary["semantic_model"] == semantic_env["VIDSEARCH_SEMANTIC__MODEL"]
    assert set(summary) >= {"indexed", "skipped", "failed", "frames", "video_seconds", "wall_s"}

    store = store_of(tmp_path)
    try:
        by_name = {Path(r.path).name: r for r in store.list_videos()}
        assert by_name["rotated_phone.mp4"].metadata.rotation in (90, 270)
        assert (by_name["rotated_phone.mp4"].metadata.width, by_name["rotated_phone.mp4"].metadata.height) == (180, 320)
        assert by_name["good_h264.mp4"].audio == "fingerprinted" and by_name["good_h264.mp4"].frames == 6
        assert by_name["no_audio.mp4"].audio == "none"
        assert by_name["zero_bytes.mp4"].status == "failed"
        for r in by_name.values():
            if r.status == "complete":
                assert r.frames == len(sample_times(r.metadata.duration_s, 1.0)) == store.count_frames(r.video_id)
        points = [p for page in store.export_points("frames") for p in page]
        assert len(points) == frames and all(set(p.vectors) == {"copy", "semantic"} for p in points)
        assert all(len(p.vectors["semantic"]) == TINY_DIM for p in points)
        thumbs = list((tmp_path / "thumbnails" / by_name["good_h264.mp4"].video_id).glob("*.jpg"))
        assert len(thumbs) == 6 and thumbs[0].read_bytes()[:2] == b"\xff\xd8"
    finally:
        store.close()

    stats = json.loads(run_cli("stats", "--json", "--data-dir", str(tmp_path)).stdout)
    assert (stats["videos"], stats["frames"], stats["failed"]) == (8, frames, 3)

    # A second run finds nothing new and writes nothing twice.
    code, again, _ = index(mixed_folder, tmp_path, semantic_env)
    assert (again["indexed"], again["skipped"], len(again["failed"])) == (0, 5, 3)
    assert json.loads(run_cli("stats", "--json", "--data-dir", str(tmp_path)).stdout)["frames"] == frames


def test_moves_changes_and_missing_model(tmp_path, offline_hub):
    videos = tmp_path / "videos"
    videos.mkdir()
    make_video(videos / "a.mp4", seconds=4, source="testsrc2")
    make_video(videos / "b.mp4", seconds=3, source="mandelbrot")
    data = tmp_path / "data"
    no_speech = {**os.environ, "VIDSEARCH_SPEECH__MODEL": "small.en"}  # not cached, and the hub is off
    code, first, stderr = index(videos, data, no_speech)
    assert code == 0 and first["indexed"] == 2 and first["semantic_model"] is None
    assert stderr.count("semantic model 'google/siglip-base-patch16-224' is unavailable") == 1  # said once
    assert "VIDSEARCH_SEMANTIC__MODEL" in stderr
    assert stderr.count("speech model 'small.en' is unavailable") == 1 and "VIDSEARCH_SPEECH__MODEL" in stderr
    assert first["speech_model"] is None and first["texts"]["speech"] == 0

    (videos / "a.mp4").rename(videos / "renamed.mp4")
    make_video(videos / "b.mp4", seconds=5, source="life")  # same path, new content
    code, second, _ = index(videos, data)
    assert (code, second["indexed"], second["moved"], second["removed"]) == (0, 1, 1, 1)
    listing = json.loads(run_cli("videos", "--json", "--data-dir", str(data)).stdout)
    assert sorted((Path(v["path"]).name, v["frames"]) for v in listing) == [("b.mp4", 5), ("renamed.mp4", 4)]
    assert json.loads(run_cli("stats", "--json", "--data-dir", str(data)).stdout)["frames"] == 9


def assert_rerun_completes(videos, data, count: int, frames: int) -> None:
    """A second run indexes whatever an interrupted one left, and every video is then whole."""
    code, summary, _ = index(videos, data)
    assert code == 0 and summary["indexed"] + summary["skipped"] == count
    store = store_of(data)
    try:
        assert [r.status for r in store.list_videos()] == ["complete"] * count
        assert store.count_frames() == count * frames
    finally:
        store.close()


# Writes of 64 frames: the first lands with more than 200 of the 270 frames still to come, so a
# signal sent when it lands finds the job mid-run, however fast the machine.
SMALL_WRITES = {**os.environ, "RAY_ADDRESS": "", "VIDSEARCH_JOB__WRITE_BATCH_SIZE": "64"}


def make_videos(folder: Path, count: int) -> None:
    for i, source in enumerate(["testsrc2", "mandelbrot", "life", "cellauto"][:count]):
        # 5 fps: the job samples 1 fps, and the generated sources are slow to render at 25.
        make_video(folder / f"v{i}.mp4", seconds=90, size=(640, 360), fps=5, source=source, audio=False)


def wait_first_write(thumbs: Path) -> None:
    deadline = time.time() + 120
    while time.time() < deadline and not any(thumbs.rglob("*.jpg")):
        time.sleep(0.1)


def test_killed_run_leaves_no_duplicates_and_no_false_complete(tmp_path):
    videos = tmp_path / "videos"
    videos.mkdir()
    make_videos(videos, 3)
    data = tmp_path / "data"
    proc = subprocess.Popen([VIDSEARCH, "index", str(videos), "--data-dir", str(data), "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=SMALL_WRITES, start_new_session=True)
    thumbs = data / "thumbnails"
    wait_first_write(thumbs)
    os.killpg(proc.pid, signal.SIGKILL)  # the driver and every Ray process it started
    proc.wait()

    store = store_of(data)
    try:
        interrupted = store.list_videos()
        for r in interrupted:
            if r.status == "complete":
                assert store.count_frames(r.video_id) == r.frames == 90
        assert any(r.status == "indexing" for r in interrupted)
    finally:
        store.close()

    assert_rerun_completes(videos, data, 3, 90)


def test_ctrl_c_stops_the_ray_work_and_a_rerun_resumes(tmp_path):
    videos = tmp_path / "videos"
    videos.mkdir()
    make_videos(videos, 3)
    data = tmp_path / "data"
    # As in a terminal, whatever this test runs under (a background job ignores Ctrl-C).
    proc = subprocess.Popen([VIDSEARCH, "index", str(videos), "--data-dir", str(data), "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=SMALL_WRITES, start_new_session=True,
                            text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    thumbs = data / "thumbnails"
    wait_first_write(thumbs)
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in its terminal
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "interrupted" in err, err[-2000:]
    written = sum(1 for _ in thumbs.rglob("*.jpg"))
    time.sleep(3)
    assert sum(1 for _ in thumbs.rglob("*.jpg")) == written, "Ray work went on after Ctrl-C"

    store = store_of(data)  # the store is free again: nothing of the run holds it
    try:
        for r in store.list_videos():
            assert r.status != "complete" or store.count_frames(r.video_id) == r.frames == 90
    finally:
        store.close()
    assert_rerun_completes(videos, data, 3, 90)


def test_unreachable_qdrant_is_a_clear_error(tmp_path, video_factory):
    video = video_factory("q.mp4", seconds=1)
    done = run_cli("index", str(video), "--data-dir", str(tmp_path), env={"QDRANT_URL": "http://127.0.0.1:9"})
    assert done.returncode == 2
    assert "cannot reach Qdrant at http://127.0.0.1:9" in done.stderr
    assert "Traceback" not in done.stderr


def test_bad_arguments_are_clear(tmp_path):
    done = run_cli("index", str(tmp_path / "missing"), "--data-dir", str(tmp_path))
    assert done.returncode == 2 and "no such file or folder" in done.stderr and "Traceback" not in done.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("sampling: {fps: zero}\n")
    done = run_cli("index", str(tmp_path), "--config", str(bad))
    assert done.returncode == 2 and "sampling.fps" in done.stderr and "Traceback" not in done.stderr


def test_module_entrypoint_for_ray_job_submit():
    done = subprocess.run([sys.executable, "-m", "batch_jobs.index_videos", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "--data-dir" in done.stdout
