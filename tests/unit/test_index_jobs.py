"""Index jobs started on request: allowed paths, the job book and progress read from records."""

from __future__ import annotations

import pytest

from vidsearch.index_jobs import (
    BadIndexPath,
    IndexJob,
    JobBook,
    JobConflict,
    PathRefused,
    check_paths,
    is_under,
    job_progress,
    media_roots,
    normal_path,
)
from vidsearch.media.probe import VideoMetadata
from vidsearch.results import JobProgress
from vidsearch.store import ids
from vidsearch.store.records import VideoRecord


def meta(duration_s: float) -> VideoMetadata:
    return VideoMetadata(
        container="mov,mp4", duration_s=duration_s, width=320, height=240, coded_width=320, coded_height=240,
        fps=25, variable_frame_rate=False, video_codec="h264",
    )


def record(name: str, path: str, status: str, updated_at: float, frames: int = 0, duration_s: float = 10.0):
    return VideoRecord(
        video_id=ids.video_id(name), path=path, checksum=name, size_bytes=1, status=status,
        metadata=meta(duration_s), frames=frames, updated_at=updated_at,
    )


def test_is_under_respects_folder_boundaries():
    assert is_under("/media/a/x.mp4", "/media/a") and is_under("/media/a", "/media/a")
    assert not is_under("/media/ab/x.mp4", "/media/a")
    assert is_under("/anything", "/") and is_under("s3://b/v/x.mp4", "s3://b/v")


def test_normal_path_resolves_like_the_index_job(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert normal_path(str(tmp_path / "link" / ".." / "real")) == str((tmp_path / "real").resolve())
    assert normal_path(str(tmp_path / "link")) == str((tmp_path / "real").resolve())
    assert normal_path("s3://bucket/a/../b/") == "s3://bucket/b"
    with pytest.raises(BadIndexPath, match="absolute"):
        normal_path("videos/a.mp4")


def test_media_roots_are_the_configured_folders_else_those_of_indexed_videos(tmp_path):
    indexed = ["/lib/a.mp4", "/lib/sub/b.mp4", "/other/c.mp4", "s3://bucket/v/d.mp4"]
    assert media_roots([], indexed) == ["/lib", "/other", "s3://bucket/v"]
    (tmp_path / "only").mkdir()
    assert media_roots([str(tmp_path / "only")], indexed) == [str((tmp_path / "only").resolve())]
    assert media_roots([], []) == []


def test_check_paths_refuses_outside_the_roots_before_saying_whether_a_path_exists(tmp_path):
    root = tmp_path / "library"
    (root / "sub").mkdir(parents=True)
    video = root / "sub" / "a.mp4"
    video.write_bytes(b"x")
    roots = [str(root.resolve())]
    assert check_paths([str(video), str(root / "sub"), str(video)], roots) == [
        str(video.resolve()), str((root / "sub").resolve())
    ]
    with pytest.raises(PathRefused, match="outside"):
        check_paths(["/etc/passwd"], roots)
    with pytest.raises(PathRefused, match="outside"):
        check_paths([str(root / ".." / "elsewhere")], roots)  # `..` cannot climb out
    with pytest.raises(PathRefused, match="outside"):
        check_paths(["/no/such/file.mp4"], roots)
    with pytest.raises(BadIndexPath, match="no such file"):
        check_paths([str(root / "missing.mp4")], roots)
    with pytest.raises(PathRefused, match="serve.index_roots"):
        check_paths([str(video)], [])


def test_a_symlink_inside_a_root_that_points_out_is_refused(tmp_path):
    root, outside = tmp_path / "library", tmp_path / "secret"
    root.mkdir()
    outside.mkdir()
    (root / "escape").symlink_to(outside)
    with pytest.raises(PathRefused):
        check_paths([str(root / "escape")], [str(root.resolve())])


def test_job_book_one_running_job_per_path():
    clock = iter(range(100))
    book = JobBook(keep_finished=2, clock=lambda: float(next(clock)))
    first = book.start(["/lib/a"])
    with pytest.raises(JobConflict, match=first.job_id):
        book.start(["/lib/a/x.mp4"])  # inside a running job's folder
    with pytest.raises(JobConflict):
        book.start(["/lib"])  # holds a running job's folder
    other = book.start(["/lib/b"])
    assert [j.job_id for j in book.jobs()] == [other.job_id, first.job_id]  # newest first
    book.finish(first.job_id, {"indexed": 1, "failed": [], "frames": 10})
    assert book.start(["/lib/a/x.mp4"]).state == "running"  # free again
    book.fail(other.job_id, "store unavailable")
    assert (other.state, other.error) == ("failed", "store unavailable")
    assert other.finished_at > other.started_at


def test_job_book_keeps_the_last_finished_jobs():
    book = JobBook(keep_finished=2)
    started = [book.start([f"/lib/{i}"]) for i in range(4)]
    for job in started:
        book.finish(job.job_id, {"indexed": 0, "failed": [], "frames": 0})
    assert [j.job_id for j in book.jobs()] == [started[3].job_id, started[2].job_id]


def test_progress_counts_the_jobs_own_videos_from_the_store():
    job = IndexJob(job_id="j", paths=["/lib"], started_at=100.0)
    records = [
        record("done", "/lib/done.mp4", "complete", 150.0, frames=10),
        record("busy", "/lib/busy.mp4", "indexing", 120.0, duration_s=20.0),
        record("broken", "/lib/broken.mp4", "failed", 130.0),
        record("old", "/lib/old.mp4", "complete", 50.0, frames=99),  # skipped by this job: untouched
        record("elsewhere", "/other/x.mp4", "indexing", 140.0),  # another folder
    ]
    written = {ids.video_id("busy"): 7}
    progress = job_progress(job, records, lambda vid: written[vid], fps=1.0)
    assert progress == JobProgress(videos_done=2, videos_total=3, frames_done=17, frames_total=30)


def test_progress_of_a_finished_job_is_its_summary():
    job = IndexJob(job_id="j", paths=["/lib"], started_at=0.0, state="done",
                   summary={"indexed": 3, "failed": [{"path": "/lib/x", "reason": "bad"}], "frames": 42})
    assert job_progress(job, [], lambda vid: 0, fps=1.0) == JobProgress(
        videos_done=4, videos_total=4, frames_done=42, frames_total=42
    )
