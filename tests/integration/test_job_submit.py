"""The README's local submission, as a user types it: `vidsearch cluster start`, then a real
`ray job submit --working-dir . -- python -m batch_jobs.index_videos ...` from a shell where the
virtualenv is not activated, so the job finds this project's Python only through the cluster."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import psutil

from batch_jobs.cluster import cluster_alive, recorded_cluster
from tests.integration.conftest import REPO, free_port

BIN = Path(sys.executable).parent


def stop_cluster(session_dir: Path, address: str) -> None:
    """Stop one cluster's processes (`ray stop` would stop every cluster on this machine, the
    test session's too): those naming its session or its address, and everything they started."""
    marks = [str(session_dir)] + ([f"={address}"] if address else [])
    roots = [p for p in psutil.process_iter(["cmdline"])
             if any(mark in " ".join(p.info["cmdline"] or []) for mark in marks)]
    processes = {p for root in roots for p in [root, *root.children(recursive=True)]}
    for p in processes:
        try:
            p.terminate()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(list(processes), timeout=20)
    for p in alive:
        p.kill()


def test_ray_job_submit_runs_the_index_job_on_a_local_cluster(ray_record, video_factory, tmp_path):
    library = tmp_path / "library"
    library.mkdir()
    shutil.copy(video_factory("submitted.mp4", seconds=4, source="mandelbrot"), library / "a.mp4")
    data_dir = tmp_path / "data"
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if Path(p) != BIN)
    env = {**os.environ, "PATH": path, "RAY_ADDRESS": "", "VIDSEARCH_SEMANTIC__ENABLED": "false"}
    env.pop("VIRTUAL_ENV", None)
    dashboard = free_port()
    started = subprocess.run([str(BIN / "vidsearch"), "cluster", "start", f"--port={free_port()}",
                              f"--dashboard-port={dashboard}"], env=env, capture_output=True, text=True, timeout=180)
    assert started.returncode == 0, started.stderr
    session = Path("/tmp/ray/session_latest").resolve()
    try:
        assert f"export RAY_ADDRESS=http://127.0.0.1:{dashboard}" in started.stdout
        env["RAY_ADDRESS"] = f"http://127.0.0.1:{dashboard}"
        if "RAY_AUTH_MODE=token" in started.stdout:
            env["RAY_AUTH_MODE"] = "token"

        def submit(*args: str, python: str = "python") -> subprocess.CompletedProcess:
            return subprocess.run([str(BIN / "ray"), "job", "submit", "--working-dir", ".", "--", python, "-m",
                                   "batch_jobs.index_videos", str(library), *args],
                                  cwd=REPO, env=env, capture_output=True, text=True, timeout=400)

        job = submit("--data-dir", str(data_dir), "--json")
        assert job.returncode == 0, job.stdout[-3000:] + job.stderr[-3000:]
        summary = next(json.loads(line) for line in job.stdout.splitlines() if line.startswith('{"indexed"'))
        assert summary["indexed"] == 1 and summary["frames"] == 4 and not summary["failed"]

        # The default data dir is relative: in the job it would land in Ray's copy of the working dir.
        # (This job names its Python, as the README says to on a head started otherwise.)
        lost = submit(python=str(BIN / "python"))
        assert lost.returncode != 0
        assert "give an absolute one" in lost.stdout + lost.stderr
    finally:
        address = recorded_cluster() or ""
        stop_cluster(session, address)
        assert not address or not cluster_alive(address)

    listed = subprocess.run([str(BIN / "vidsearch"), "videos", "--data-dir", str(data_dir), "--json"],
                            env={**env, "RAY_ADDRESS": ""}, capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    assert [Path(v["path"]).name for v in json.loads(listed.stdout)] == ["a.mp4"]
