"""Matching a folder of clips, without Ray: the kept outcomes, the report in every format (read
back with the libraries that read them), the checks made before any work, and batched matching
giving /match's own answers."""

import csv
import io
import json
import os
import subprocess
from pathlib import Path

import opentimelineio as otio
import pytest

from vidsearch.export import export, report_files
from vidsearch.index_jobs import JobBook, JobConflict, job_progress
from vidsearch.match_jobs import (
    REPORT_COLUMNS, BadOutput, ClipOutcome, LibraryEmpty, MatchLedger, check_output, describe_library, library_state,
    report_rows,
)
from vidsearch.results import AudioCheck, Crop, Match
from vidsearch.store.records import VideoRecord


def match(vid: str, path: str, source: tuple[float, float], clip: tuple[float, float], **extra) -> Match:
    return Match(video_id=vid, path=path, score=extra.pop("score", 0.9), source_start_s=source[0], source_end_s=source[1],
                 query_start_s=clip[0], query_end_s=clip[1], speed=extra.pop("speed", 1.0), visual_score=0.9,
                 flipped=extra.pop("flipped", False), **extra)


PIP = match("v1", "/lib/street scene.mp4", (20.0, 30.0), (2.0, 12.0), audio=AudioCheck(verified=True, offset_s=18.0, score=0.4))
INSET = match("v2", "/lib/bunny.mp4", (5.0, 10.0), (4.0, 6.5), speed=2.0, inset="top-left", score=0.8)
CROPPED = match("v1", "/lib/street scene.mp4", (40.0, 45.0), (0.0, 5.0), crop=Crop(x=0.2, width=0.5, y=0.0, height=1.0))
OUTCOMES = [
    ClipOutcome.of("/clips/a.mp4", "c1", 15.0, [PIP, INSET], "lib", 5, 1.0),
    ClipOutcome(path="/clips/broken.mp4", checksum="c2", status="failed", reason="not a readable video"),
    ClipOutcome.of("/clips/nothing.mp4", "c3", 6.0, [], "lib", 5, 1.0),
    ClipOutcome.of("/clips/vertical.mp4", "c4", 5.0, [CROPPED], "lib", 5, 1.0),
]


def test_one_row_per_clip_and_source_segment_and_one_per_clip_without_any():
    rows = report_rows(OUTCOMES)
    assert [(r["clip_path"], r["status"], r["video_id"]) for r in rows] == [
        ("/clips/a.mp4", "matched", "v1"), ("/clips/a.mp4", "matched", "v2"), ("/clips/broken.mp4", "failed", None),
        ("/clips/nothing.mp4", "unmatched", None), ("/clips/vertical.mp4", "matched", "v1"),
    ]
    first, inset, broken = rows[0], rows[1], rows[2]
    assert (first["clip_start_s"], first["clip_end_s"], first["source_start_s"], first["source_end_s"]) == (2.0, 12.0, 20.0, 30.0)
    assert first["audio_verified"] is True and first["audio_offset_s"] == 18.0
    assert inset["inset"] == "top-left" and inset["speed"] == 2.0 and inset["audio_verified"] is None
    assert broken["reason"] == "not a readable video"
    assert rows[4]["crop"] == "0.2,0.0,0.5,1.0"


def test_csv_and_json_reports_read_back():
    table = list(csv.DictReader(io.StringIO(report_files(OUTCOMES, "csv", {})[""])))
    assert tuple(table[0]) == REPORT_COLUMNS and len(table) == 5
    assert table[0]["source_path"] == "/lib/street scene.mp4" and table[3]["status"] == "unmatched"
    body = json.loads(report_files(OUTCOMES, "json", {"clips": 4})[""])
    assert body["summary"] == {"clips": 4} and body["rows"] == json.loads(json.dumps(report_rows(OUTCOMES)))


def test_an_edl_per_source_with_each_clips_range_of_it():
    files = report_files(OUTCOMES, "edl", {})
    assert set(files) == {"-street_scene", "-bunny"}
    street = files["-street_scene"].splitlines()
    assert street[0] == "TITLE: street scene.mp4"
    events = [line for line in street if line[:3].isdigit()]
    # Source in/out, then the record timeline: one event after another.
    assert events == ["001  AX001    V     C        00:00:20:00 00:00:30:00 00:00:00:00 00:00:10:00",
                      "002  AX002    V     C        00:00:40:00 00:00:45:00 00:00:10:00 00:00:15:00"]
    assert "* MATCHED CLIP: a.mp4 00:00:02:00-00:00:12:00 score 0.9" in street
    assert "* MATCHED CLIP: a.mp4 00:00:04:00-00:00:06:12 score 0.8" in files["-bunny"].splitlines()


def test_two_sources_of_one_name_get_two_edls():
    other = match("v9", "/elsewhere/street scene.mp4", (1.0, 2.0), (0.0, 1.0))
    files = report_files([ClipOutcome.of("/clips/b.mp4", "c9", 3.0, [PIP, other], "lib", 5, 1.0)], "edl", {})
    assert set(files) == {"-street_scene", "-street_scene-v9"}


def test_otio_timelines_read_back_in_each_sources_own_frames(tmp_path):
    body = report_files(OUTCOMES, "otio", {}, sources={"v1": (24.0, 120.0)})[""]
    path = tmp_path / "matches.otio"
    path.write_text(body)
    collection = otio.adapters.read_from_file(str(path))
    assert [t.name for t in collection] == ["a.mp4", "vertical.mp4"]  # clips that matched nothing have none
    clip_a = collection[0]
    assert clip_a.metadata["vidsearch"]["clip_path"] == "/clips/a.mp4"
    # The inset overlaps the main picture in the clip's time: a track of its own.
    tracks = list(clip_a.tracks)
    assert len(tracks) == 2
    gap, street = list(tracks[0])
    assert isinstance(gap, otio.schema.Gap) and gap.duration().to_seconds() == 2.0  # the clip's first 2 s
    assert street.source_range.start_time.to_seconds() == 20.0 and street.source_range.duration.to_seconds() == 10.0
    assert street.source_range.start_time.rate == 24.0  # the source's rate, known from the store
    assert street.media_reference.target_url == "file:///lib/street%20scene.mp4"
    assert street.media_reference.available_range.duration.to_seconds() == 120.0
    assert street.metadata["vidsearch"]["audio"]["verified"] is True
    bunny = [c for c in tracks[1] if isinstance(c, otio.schema.Clip)][0]
    assert bunny.effects[0].time_scalar == 2.0 and bunny.source_range.start_time.rate == 25.0  # unknown: 25


def test_a_single_result_set_exports_as_one_timeline():
    body, media = export([PIP.model_dump(mode="json"), CROPPED.model_dump(mode="json")], "otio")
    timeline = otio.adapters.read_from_string(body)
    assert media == "application/vnd.opentimelineio+json" and isinstance(timeline, otio.schema.Timeline)
    clips = list(timeline.tracks[0])
    assert [c.source_range.start_time.to_seconds() for c in clips] == [20.0, 40.0]  # one after another
    assert timeline.duration().to_seconds() == 15.0
    moment = {"video_id": "v1", "path": "/lib/a.mp4", "timestamp_s": 10.0, "score": 0.3}
    assert otio.adapters.read_from_string(export([moment], "otio")[0]).duration().to_seconds() == 4.0


def test_report_paths_are_checked_before_any_work(tmp_path):
    assert check_output(None) is None
    assert check_output(tmp_path / "matches.CSV") == "csv"
    for bad, said in [(tmp_path / "matches.txt", "end it in .csv"), (tmp_path / "none" / "m.csv", "there is no folder"),
                      (tmp_path, "is a folder")]:
        with pytest.raises(BadOutput, match=said):
            check_output(bad)
    with pytest.raises(BadOutput, match="cannot write the report to /proc/m.csv"):  # no one creates files there
        check_output(Path("/proc/m.csv"))
    locked = tmp_path / "locked"
    locked.mkdir()
    read_only = tmp_path / "read-only.json"
    read_only.write_text("{}")
    read_only.chmod(0o444)
    locked.chmod(0o555)
    try:
        if not os.access(locked, os.W_OK):  # as root, permissions do not stop a write
            with pytest.raises(BadOutput, match="cannot write"):
                check_output(locked / "m.otio")
            with pytest.raises(BadOutput, match="read-only"):
                check_output(read_only)
    finally:
        locked.chmod(0o755)


def test_kept_outcomes_are_reused_for_the_same_clip_and_library_only(tmp_path):
    ledger = MatchLedger(tmp_path / "clip-matches")
    done = OUTCOMES[0]
    ledger.put(done)
    ledger.put(OUTCOMES[1])  # failures are checked again next time
    assert ledger.get("c1", "lib", 5) == done
    assert ledger.get("c1", "grown", 5) is None and ledger.get("c1", "lib", 3) is None
    assert ledger.get("c2", "lib", 5) is None and ledger.get(None, "lib", 5) is None
    (tmp_path / "clip-matches" / "c1.json").write_text('{"half": ')  # a file cut short
    assert ledger.get("c1", "lib", 5) is None
    assert not list((tmp_path / "clip-matches").glob(".*"))  # no temporary files left


def test_library_state_follows_the_complete_videos_and_their_versions():
    assert library_state({"a": 1.0, "b": 2.0}) == library_state({"b": 2.0, "a": 1.0})
    assert library_state({"a": 1.0, "b": 2.0}) != library_state({"a": 1.0, "b": 3.0})
    assert library_state({"a": 1.0}) != library_state({"a": 1.0, "b": 2.0})


def record(vid: str, status: str) -> VideoRecord:
    return VideoRecord(video_id=vid, path=f"/lib/{vid}.mp4", checksum=vid, size_bytes=1, status=status)


def test_an_empty_or_still_indexing_library_is_said_plainly():
    with pytest.raises(LibraryEmpty, match="the library is empty"):
        describe_library([])
    with pytest.raises(LibraryEmpty, match="still indexing its first 2 videos"):
        describe_library([record("a", "indexing"), record("b", "indexing"), record("c", "failed")])
    complete, note = describe_library([record("a", "complete"), record("b", "indexing")])
    assert complete == 1 and "1 videos are still being indexed" in note
    assert describe_library([record("a", "complete")]) == (1, None)


def test_match_jobs_and_index_jobs_of_one_folder_run_side_by_side():
    book = JobBook()
    book.start(["/lib"])
    matching = book.start(["/lib/clips"], "match")
    with pytest.raises(JobConflict, match="already matching the clips of /lib/clips"):
        book.start(["/lib"], "match")
    book.progress(matching.job_id, 3, 10)
    progress = job_progress(book.get(matching.job_id), [], lambda vid: 0, 1.0)
    assert (progress.clips_done, progress.clips_total) == (3, 10)
    book.finish(matching.job_id, {"matched": 6, "unmatched": 3, "failed": [{"path": "x", "reason": "y"}]})
    progress = job_progress(book.get(matching.job_id), [], lambda vid: 0, 1.0)
    assert (progress.clips_done, progress.clips_total) == (10, 10)


def test_batched_matching_gives_each_clips_own_answers(shared_videos, tmp_path, store):
    from vidsearch.clips import clip_vectors
    from vidsearch.copy_index import CopyIndex
    from vidsearch.matching import match_clip, match_clips
    from vidsearch.store import ids

    library = ["tears_of_steel_battle_clip.webm", "bbb_opening_480p_30s.mp4", "chaplin_street_scene.mp4",
               "toy_crystal_tabletop.mp4"]
    index = CopyIndex()
    for name in library:
        vectors = clip_vectors(str(shared_videos / name))
        vid = ids.video_id(name)
        index.add(vid, vectors.seconds, vectors.copy)
        store.put_video(VideoRecord(video_id=vid, path=str(shared_videos / name), checksum=vid, size_bytes=1,
                                    status="complete"))
    clips = []
    for name, start, vf in [("chaplin_street_scene.mp4", 4, "scale=-2:240"), ("bbb_opening_480p_30s.mp4", 10, "hflip"),
                            ("toy_crystal_tabletop.mp4", 2, "crop=ih*9/16:ih"), ("tears_of_steel_battle_clip.webm", 30,
                                                                                   "scale=320:-2")]:
        out = tmp_path / f"{name}.mp4"
        subprocess.run(["ffmpeg", "-v", "error", "-ss", str(start), "-t", "8", "-i", str(shared_videos / name), "-vf", vf,
                        "-an", "-c:v", "libx264", "-preset", "ultrafast", str(out)], check=True)
        clips.append(clip_vectors(str(out)))
    one_by_one = [match_clip(store, index, clip) for clip in clips]
    assert match_clips(store, index, clips) == one_by_one
    assert [m[0].path.rsplit("/", 1)[1] for m in one_by_one] == [
        "chaplin_street_scene.mp4", "bbb_opening_480p_30s.mp4", "toy_crystal_tabletop.mp4",
        "tears_of_steel_battle_clip.webm"]
