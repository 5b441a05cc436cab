"""Jobs started from the service, run in the cluster: indexing videos, matching folders of clips.

One named actor per data dir keeps the book of jobs, so that every Api replica sees the same jobs
and a job outlives the replica that started it. Each job is a Ray task calling `run_index` or
`run_match` with the service's settings; it reaches the embedded store through the cluster's
single owner, so what it writes is searchable at once. A match job keeps its clips' outcomes in
the data dir (match_report_path), from which the report downloads in any format.
"""

from __future__ import annotations

from pathlib import Path

from vidsearch.config import Settings
from batch_jobs.cluster import NAMESPACE, owner_name


def match_report_path(settings: Settings, job_id: str) -> Path:
    """Where a match job's outcomes are kept: every replica reads its report from there."""
    return settings.data_dir / "match-jobs" / f"{job_id}.json"


def job_runner(settings: Settings):
    """A handle to the actor that starts and tracks this data dir's index jobs."""
    import ray

    from vidsearch.index_jobs import JobBook

    # The task only orchestrates; Ray Data's own tasks and actors take the CPUs it needs.
    @ray.remote(num_cpus=0)
    def index(paths: list[str], settings: Settings, redo: list[str]) -> dict:
        from batch_jobs.index_videos import run_index
        from batch_jobs.cluster import cluster_store

        # The plan skips an unchanged, complete video; one marked `indexing` it indexes again, and
        # its old frames go first, as the plan would drop them, so that progress starts from zero.
        store = cluster_store(settings)
        for video_id in redo:
            store.delete_frames(video_id)
            store.set_status(video_id, "indexing", frames=0)
        return run_index(paths, settings, show_progress=False).as_json()

    @ray.remote(num_cpus=0)
    def match(paths: list[str], settings: Settings, job_id: str, runner) -> dict:
        from batch_jobs.match_clips import run_match
        from vidsearch.match_jobs import write_json

        def follow(done: int, total: int) -> None:
            runner.progress.remote(job_id, done, total)

        summary, outcomes = run_match(paths, settings, show_progress=False, on_progress=follow)
        report = match_report_path(settings, job_id)
        report.parent.mkdir(parents=True, exist_ok=True)
        plain = summary.as_json()
        write_json(report, {"summary": plain, "clips": [o.model_dump(mode="json") for o in outcomes]})
        return plain

    @ray.remote(num_cpus=0)
    class IndexJobRunner:
        def __init__(self, settings: Settings):
            self.settings = settings
            self.book = JobBook()
            self.tasks = {}  # job_id -> ObjectRef of the running task

        def start(self, paths: list[str], redo: list[str]):
            self._collect()
            job = self.book.start(paths)
            self.tasks[job.job_id] = index.remote(paths, self.settings, redo)
            return job

        def start_match(self, paths: list[str]):
            self._collect()
            job = self.book.start(paths, "match")
            me = ray.get_runtime_context().current_actor
            self.tasks[job.job_id] = match.remote(paths, self.settings, job.job_id, me)
            return job

        def progress(self, job_id: str, done: int, total: int) -> None:
            self.book.progress(job_id, done, total)

        def job(self, job_id: str):
            self._collect()
            return self.book.get(job_id)

        def jobs(self):
            self._collect()
            return self.book.jobs()

        def cancel(self, job_id: str):
            """Stop a running job's task and the Ray Data work it started (its tasks, and the actors
            it owns, which end with it). Forced: an interrupt raised in the task was seen to let it
            write on; what a killed task had begun stays `indexing`, and the next run redoes it."""
            self._collect()
            job = self.book.cancel(job_id)
            ref = self.tasks.pop(job_id, None)
            if ref is not None:
                ray.cancel(ref, force=True, recursive=True)
            return job

        def _collect(self) -> None:
            if not self.tasks:
                return
            ready, _ = ray.wait(list(self.tasks.values()), num_returns=len(self.tasks), timeout=0)
            for job_id, ref in list(self.tasks.items()):
                if ref not in ready:
                    continue
                del self.tasks[job_id]
                if job_id not in {j.job_id for j in self.book.running()}:
                    continue
                try:
                    self.book.finish(job_id, ray.get(ref))
                except ray.exceptions.RayTaskError as e:
                    self.book.fail(job_id, str(e.cause))
                except ray.exceptions.RayError as e:
                    self.book.fail(job_id, f"the job stopped: {type(e).__name__}")

    name = "index-jobs-" + owner_name(settings).removeprefix("store-")
    return IndexJobRunner.options(
        name=name, namespace=NAMESPACE, lifetime="detached", get_if_exists=True
    ).remote(settings)
