"""`vidsearch match-all`: a folder of clips matched by the real job on a real Ray, against real
videos indexed by the real index job, through the command line a person uses."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import opentimelineio as otio
import pytest
import yaml

from tests.integration.conftest import HELD_OUT, cut
from tests.integration.test_index_job import run_cli

pytestmark = [pytest.mark.integration]

LIBRARY = ["chaplin_street_scene.mp4", "bbb_opening_480p_30s.mp4", "tears_of_steel_battle_clip.webm"]
MAX_CLIP_S = 20


@pytest.fixture(scope="module")
def library(shared_videos, tmp_path_factory, ray_record_module):
    """Three shared videos indexed (copy vectors and audio), and a folder of clips: two cut from
    them (one mirrored, in a sub-folder), one of a video not indexed, and four bad ones."""
    root = tmp_path_factory.mktemp("match-all")
    videos = root / "videos"
    videos.mkdir()
    for name in LIBRARY:
        (videos / name).symlink_to(shared_videos / name)
    config = root / "config.yaml"
    config.write_text(yaml.safe_dump({"semantic": {"enabled": False}, "speech": {"enabled": False},
                                      "serve": {"max_clip_s": MAX_CLIP_S}}))
    data = root / "data"
    done = run_cli("index", str(videos), "--config", str(config), "--data-dir", str(data), "--json")
    assert done.returncode == 0, done.stderr
    clips = root / "clips"
    (clips / "nested").mkdir(parents=True)
    cut(shared_videos / "tears_of_steel_battle_clip.webm", clips / "battle.mp4", 20, 10)
    cut(shared_videos / "bbb_opening_480p_30s.mp4", clips / "nested" / "bunny_mirrored.mp4", 12, 7, vf="hflip,scale=-2:240")
    cut(shared_videos / HELD_OUT, clips / "elsewhere.mp4", 3, 6)
    cut(shared_videos / "tears_of_steel_battle_clip.webm", clips / "too_long.mp4", 30, MAX_CLIP_S + 5)
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(shared_videos / "chaplin_street_scene.mp4"), "-t", "5", "-vn",
                    "-c:a", "aac", str(clips / "only_sound.mp4")], check=True)
    (clips / "broken.mp4").write_bytes((shared_videos / "chaplin_street_scene.mp4").read_bytes()[:30000])
    (clips / "empty.mov").write_bytes(b"")
    return root, config, data, clips


@pytest.fixture(scope="module")
def ray_record_module():
    """As conftest's ray_record, for the module: the commands must start their own cluster."""
    from batch_jobs.cluster import CLUSTER_MARKER, cluster_alive

    saved = CLUSTER_MARKER.read_text() if CLUSTER_MARKER.exists() else None
    if saved is not None and cluster_alive(saved.strip()):
        pytest.skip(f"a Ray cluster is running at {saved.strip()}; the commands would join it")
    yield


def match_all(library, *args, module=False):
    root, config, data, clips = library
    common = ["--config", str(config), "--data-dir", str(data)]
    if module:  # as `ray job submit -- python -m batch_jobs.match_clips` runs it
        return subprocess.run([sys.executable, "-m", "batch_jobs.match_clips", str(clips), *common, *args],
                              capture_output=True, text=True, timeout=600, env={**os.environ, "RAY_ADDRESS": ""})
    return run_cli("match-all", str(clips), *common, *args, timeout=600)


def test_every_clip_is_reported_and_bad_ones_do_not_stop_the_job(library, tmp_path):
    report = tmp_path / "matches.csv"
    done = match_all(library, "--out", str(report))
    assert done.returncode == 3, done.stderr  # some clips failed: said by the exit code
    assert "7 clips against 3 videos: matched 2, unmatched 1, failed 4" in done.stdout
    rows = {r["clip_path"].rsplit("/", 1)[1]: r for r in csv.DictReader(report.open())}
    assert set(rows) == {"battle.mp4", "bunny_mirrored.mp4", "elsewhere.mp4", "too_long.mp4", "only_sound.mp4",
                         "broken.mp4", "empty.mov"}
    battle, bunny = rows["battle.mp4"], rows["bunny_mirrored.mp4"]
    assert battle["source_path"].endswith("tears_of_steel_battle_clip.webm") and battle["flipped"] == "False"
    assert abs(float(battle["source_start_s"]) - float(battle["clip_start_s"]) - 20) <= 1
    assert battle["audio_verified"] == "True"  # its sound, where the picture put it
    assert bunny["source_path"].endswith("bbb_opening_480p_30s.mp4") and bunny["flipped"] == "True"
    assert abs(float(bunny["source_start_s"]) - float(bunny["clip_start_s"]) - 12) <= 1
    assert rows["elsewhere.mp4"]["status"] == "unmatched" and not rows["elsewhere.mp4"]["source_path"]
    reasons = {name: rows[name]["reason"] for name in ("too_long.mp4", "only_sound.mp4", "broken.mp4", "empty.mov")}
    assert f"clips of at most {MAX_CLIP_S} s are matched" in reasons["too_long.mp4"]
    assert "no video stream" in reasons["only_sound.mp4"]
    assert "not a readable video" in reasons["broken.mp4"] and "empty file" in reasons["empty.mov"]
    for name, reason in reasons.items():
        assert f"failed: {library[3]}" in done.stdout and reason in done.stdout


def test_a_run_started_again_skips_the_clips_it_matched_and_force_redoes_them(library, tmp_path):
    first = match_all(library, "--json")  # after the test above, or on its own: kept either way
    again = match_all(library, "--json", "--out", str(tmp_path / "m.otio"), module=True)
    assert again.returncode == 3, again.stderr
    summary = json.loads(again.stdout.splitlines()[-1])
    assert summary["skipped"] == 3 and summary["matched"] == 2 and len(summary["failed"]) == 4
    timelines = otio.adapters.read_from_file(str(tmp_path / "m.otio"))
    assert sorted(t.name for t in timelines) == ["battle.mp4", "bunny_mirrored.mp4"]
    battle = next(t for t in timelines if t.name == "battle.mp4")
    (clip,) = [c for c in battle.tracks[0] if isinstance(c, otio.schema.Clip)]
    assert clip.name == "tears_of_steel_battle_clip.webm" and abs(clip.source_range.start_time.to_seconds() - 20) <= 1.5
    assert clip.source_range.start_time.rate == 24.0  # the source's own frame rate
    forced = json.loads(match_all(library, "--json", "--force").stdout.splitlines()[-1])
    assert forced["skipped"] == 0 and forced["matched"] == 2
    assert json.loads(first.stdout.splitlines()[-1])["matched"] == 2


def test_a_report_that_cannot_be_written_fails_before_any_work(library, tmp_path):
    root, _, data, _ = library
    kept = sorted((data / "clip-matches").glob("*")) if (data / "clip-matches").exists() else []
    for out, said in [(tmp_path / "no" / "such" / "m.csv", "there is no folder"), (tmp_path / "m.xlsx", "end it in .csv"),
                      ("/proc/m.json", "cannot write the report")]:
        done = match_all(library, "--out", str(out), "--force")
        assert done.returncode == 2 and said in done.stderr and "Traceback" not in done.stderr
    assert (sorted((data / "clip-matches").glob("*")) if (data / "clip-matches").exists() else []) == kept


def test_an_empty_library_is_said_plainly(library, tmp_path):
    _, config, _, clips = library
    done = run_cli("match-all", str(clips), "--config", str(config), "--data-dir", str(tmp_path / "empty"))
    assert done.returncode == 2 and "the library is empty: index source videos first" in done.stderr
    assert "Traceback" not in done.stderr
