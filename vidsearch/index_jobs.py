"""Jobs started on request (indexing videos, matching a folder of clips): which paths they may
read, the book of jobs, and their progress.

Plain objects; `serve_app.jobs` runs them on Ray. An index job's progress is read from the store
itself: its plan writes an `indexing` record for every video it will index before decoding starts,
and the writer turns it `complete` or `failed`, so the records under a job's paths touched since
it started are exactly that job's videos. A match job reports its clips done as it goes.
"""

from __future__ import annotations

import os
import posixpath
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Literal

import fsspec
from pydantic import BaseModel, Field

from vidsearch.results import JobProgress
from vidsearch.store.records import VideoRecord

JobState = Literal["running", "done", "failed", "cancelled"]
JobKind = Literal["index", "match"]


class PathRefused(PermissionError):
    """A path outside the folders this service may index."""


class BadIndexPath(ValueError):
    """A path that cannot be indexed: relative, or not there."""


class JobConflict(RuntimeError):
    """A running job already covers some of the paths, or a job to cancel is not running."""


class UnknownJob(KeyError):
    """No job of that id (finished jobs are kept a while, then forgotten)."""


def normal_path(path: str) -> str:
    """The path as the index job records it: local paths resolved (symlinks, `..`), URIs normalised."""
    if "://" in path:
        scheme, rest = path.split("://", 1)
        return f"{scheme}://{posixpath.normpath(rest)}"
    if not os.path.isabs(path):
        raise BadIndexPath(f"{path!r} is not an absolute path: give the full path of a file or folder")
    return str(Path(path).resolve())


def is_under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _parent(path: str) -> str:
    return posixpath.dirname(path) if "://" in path else os.path.dirname(path)


def media_roots(configured: Iterable[str], indexed_paths: Iterable[str]) -> list[str]:
    """Folders that may be indexed on request: the configured ones, else those of indexed videos."""
    configured = list(configured)
    if configured:
        folders = sorted({normal_path(root) for root in configured})
    else:
        folders = sorted({_parent(path) for path in indexed_paths})
    # A folder inside another adds nothing; sorted order puts the outer one first.
    roots: list[str] = []
    for folder in folders:
        if not any(is_under(folder, r) for r in roots):
            roots.append(folder)
    return roots


def check_paths(paths: Iterable[str], roots: list[str]) -> list[str]:
    """The normalised paths, once each is known to be under a root and to exist."""
    if not roots:
        raise PathRefused(
            "no folder may be indexed from the service yet: index one with `vidsearch index`, "
            "or list folders in serve.index_roots"
        )
    checked = []
    for path in paths:
        normal = normal_path(path)
        # Permission before existence, so that the answer says nothing about files outside the roots.
        if not any(is_under(normal, root) for root in roots):
            raise PathRefused(f"{path} is outside the folders this service may index: {', '.join(roots)}")
        fs, base = fsspec.core.url_to_fs(normal)
        if not fs.exists(base):
            raise BadIndexPath(f"no such file or folder: {path}")
        checked.append(normal)
    return list(dict.fromkeys(checked))


class IndexJob(BaseModel):
    job_id: str
    kind: JobKind = Field("index", description="index: videos into the library; match: a folder of clips against it")
    paths: list[str]
    started_at: float
    state: JobState = "running"
    finished_at: float | None = None
    summary: dict | None = Field(
        None, description="the job's summary once it finished (as `vidsearch index --json` or `vidsearch match-all --json`)")
    error: str | None = Field(None, description="why a failed job stopped")
    clips_done: int = Field(0, description="a match job's clips done so far")
    clips_total: int = Field(0, description="a match job's clips found under its paths")


class JobBook:
    """The jobs of one service: at most one running job per path, and the last few finished ones."""

    def __init__(self, keep_finished: int = 20, clock: Callable[[], float] = time.time):
        self.keep_finished = keep_finished
        self.clock = clock
        self._jobs: dict[str, IndexJob] = {}  # in start order

    def start(self, paths: list[str], kind: JobKind = "index") -> IndexJob:
        # Two jobs writing the same videos (or clip results) would race on their records.
        for job in self.running():
            if job.kind != kind:
                continue
            for new in paths:
                busy = next((p for p in job.paths if is_under(new, p) or is_under(p, new)), None)
                if busy:
                    doing = "indexing" if kind == "index" else "matching the clips of"
                    raise JobConflict(f"job {job.job_id} is already {doing} {busy}: wait for it to finish")
        job = IndexJob(job_id=uuid.uuid4().hex[:12], kind=kind, paths=list(paths), started_at=self.clock())
        self._jobs[job.job_id] = job
        return job

    def finish(self, job_id: str, summary: dict) -> None:
        if self._jobs[job_id].state != "cancelled":
            self._end(job_id, "done", summary=summary)

    def progress(self, job_id: str, done: int, total: int) -> None:
        job = self._jobs.get(job_id)
        if job is not None and job.state == "running":
            job.clips_done, job.clips_total = done, total

    def get(self, job_id: str) -> IndexJob:
        job = self._jobs.get(job_id)
        if job is None:
            raise UnknownJob(job_id)
        return job

    def fail(self, job_id: str, error: str) -> None:
        if self._jobs[job_id].state != "cancelled":  # its task ends with an error of its own
            self._end(job_id, "failed", error=error)

    def cancel(self, job_id: str) -> IndexJob:
        """Mark a running job cancelled; what it finished stays, what it had begun is `indexing`
        and the next run of those paths indexes it again."""
        job = self._jobs.get(job_id)
        if job is None:
            raise UnknownJob(job_id)
        if job.state != "running":
            raise JobConflict(f"job {job_id} is not running: it is {job.state}")
        self._end(job_id, "cancelled", error="cancelled on request")
        return job

    def _end(self, job_id: str, state: JobState, **fields) -> None:
        job = self._jobs[job_id]
        job.state, job.finished_at = state, self.clock()
        for name, value in fields.items():
            setattr(job, name, value)
        finished = [j for j in self._jobs.values() if j.state != "running"]
        for old in finished[: max(0, len(finished) - self.keep_finished)]:
            del self._jobs[old.job_id]

    def running(self) -> list[IndexJob]:
        return [j for j in self._jobs.values() if j.state == "running"]

    def jobs(self) -> list[IndexJob]:
        """Newest first."""
        return list(reversed(self._jobs.values()))


def job_progress(
    job: IndexJob, records: Iterable[VideoRecord], frames_written: Callable[[str], int], fps: float
) -> JobProgress:
    """Videos and frames done of an index job, from the store: the summary once it finished. A
    match job's clips done."""
    if job.kind == "match":
        done = len(job.summary["failed"]) + job.summary["matched"] + job.summary["unmatched"] if job.summary else None
        return JobProgress(videos_done=0, videos_total=0, frames_done=0, frames_total=0,
                           clips_done=job.clips_done if done is None else done,
                           clips_total=job.clips_total if done is None else done)
    if job.summary is not None:
        done = job.summary["indexed"] + len(job.summary["failed"])
        frames = job.summary["frames"]
        return JobProgress(videos_done=done, videos_total=done, frames_done=frames, frames_total=frames)
    from vidsearch.frame_batches import frame_count

    videos_done = videos_total = frames_done = frames_total = 0
    for record in records:
        if (record.updated_at or 0) < job.started_at or not any(is_under(record.path, p) for p in job.paths):
            continue
        videos_total += 1
        if record.status == "complete":
            videos_done += 1
            frames_done += record.frames
            frames_total += record.frames
        elif record.status == "failed":
            videos_done += 1
        elif record.metadata is not None:
            frames_done += frames_written(record.video_id)
            frames_total += frame_count(record.metadata, fps)
    return JobProgress(videos_done=videos_done, videos_total=videos_total, frames_done=frames_done,
                       frames_total=frames_total)
