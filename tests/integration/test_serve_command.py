"""`vidsearch serve` as a user runs it, in a terminal: what runs is what the command was given, the
cluster it starts stops with it, and the record of a head that was killed does not make it wait."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from batch_jobs.cluster import CLUSTER_MARKER, cluster_alive, recorded_cluster
from tests.integration.conftest import REPO, free_port

BIN = Path(sys.executable).parent


def serve(data_dir: Path, port: int, env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [str(BIN / "vidsearch"), "serve", "--data-dir", str(data_dir), "--port", str(port)],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )


def wait_healthy(proc: subprocess.Popen, url: str, timeout_s: float = 240) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"vidsearch serve exited: {proc.stdout.read()}"
        try:
            answer = httpx.get(f"{url}/health", timeout=5)
            if answer.status_code == 200:
                return answer.json()
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise AssertionError("the service did not come up")


def interrupt(proc: subprocess.Popen) -> str:
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the terminal's whole foreground group
    out, _ = proc.communicate(timeout=120)
    return out


def test_settings_follow_the_command_and_the_cluster_stops_with_it(ray_record, video_factory, tiny_model_dir, tmp_path):
    library = tmp_path / "library"
    library.mkdir()
    shutil.copy(video_factory("serve-cmd.mp4", seconds=4), library / "a.mp4")
    first_dir, second_dir = tmp_path / "first", tmp_path / "second"
    env = {**os.environ, "VIDSEARCH_SEMANTIC__ENABLED": "false", "RAY_ADDRESS": ""}
    subprocess.run([str(BIN / "vidsearch"), "index", str(library), "--data-dir", str(first_dir)],
                   env=env, check=True, capture_output=True)

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = serve(first_dir, port, env)
    try:
        health = wait_healthy(proc, url)
        assert health["capabilities"]["text_search"] is False  # semantic search is off, as asked
        assert httpx.get(f"{url}/stats").json()["videos"] == 1
        address = recorded_cluster()
        assert address and cluster_alive(address)
    finally:
        out = interrupt(proc)
    assert f"serving {first_dir.resolve()}" in out and "stopping the Ray cluster this command started" in out
    assert not cluster_alive(address), "the cluster it started outlived it"

    # Ctrl-C, then again with another data dir and the model on: the new settings are what run.
    env = {**env, "VIDSEARCH_SEMANTIC__ENABLED": "true", "VIDSEARCH_SEMANTIC__MODEL": str(tiny_model_dir)}
    CLUSTER_MARKER.parent.mkdir(parents=True, exist_ok=True)
    CLUSTER_MARKER.write_text(f"127.0.0.1:{free_port()}")  # a head killed with -9 leaves its record
    proc = serve(second_dir, port, env)
    try:
        health = wait_healthy(proc, url)
        assert health["capabilities"]["text_search"] is True
        assert httpx.get(f"{url}/stats").json()["videos"] == 0  # the new, empty library
        # Listening on loopback (the default) it asks no key of this machine.
        assert httpx.delete(f"{url}/videos/0000").status_code == 404
    finally:
        out = interrupt(proc)
    assert "is not running (killed?); starting a new one" in out
