"""Indexing while the service runs: new videos become searchable without a restart."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import make_video
from tests.integration.conftest import cut

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_video_indexed_while_serving_becomes_searchable(service, tmp_path):
    from batch_jobs.index_videos import run_index
    from vidsearch.config import load_settings

    client = service.client
    before = client.get("/stats").json()["videos"]
    folder = tmp_path / "new"
    folder.mkdir()
    fresh = make_video(folder / "fractal.mp4", seconds=30, size=(480, 270), fps=5, source="mandelbrot")

    summary = run_index([str(folder)], load_settings(service.config), show_progress=False)

    assert summary.indexed == 1
    assert client.get("/stats").json()["videos"] == before + 1
    record = next(v for v in client.get("/videos").json()["videos"] if v["path"] == str(fresh))
    assert record["status"] == "complete"
    clip = cut(fresh, tmp_path / "clip.mp4", start=8, seconds=12)
    best = client.post("/match", files={"file": ("clip.mp4", clip.read_bytes(), "video/mp4")}).json()["matches"][0]
    assert best["video_id"] == record["video_id"] and abs(best["source_start_s"] - 8) <= 1


def vidsearch(*args: str) -> subprocess.CompletedProcess:
    cli = Path(sys.executable).parent / "vidsearch"
    return subprocess.run([str(cli), *args], capture_output=True, text=True, timeout=300)


def test_cli_clients_over_http(service, tmp_path):
    found = vidsearch("search", "a birthday cake", "--k", "3", "--url", service.url, "--json")
    assert found.returncode == 0, found.stderr
    assert len(json.loads(found.stdout)["results"]) == 3
    table = vidsearch("search", "a dog", "--k", "2", "--url", service.url)
    assert table.returncode == 0 and table.stdout.strip().endswith("2 moments")

    clip = cut(service.library / "tears_of_steel_battle_clip.webm", tmp_path / "clip.mp4", start=40, seconds=15)
    matched = vidsearch("match", str(clip), "--url", service.url)
    assert matched.returncode == 0, matched.stderr
    first = matched.stdout.splitlines()[0]
    assert "tears_of_steel_battle_clip.webm" in first and "source 0:40" in first and "audio verified" in first

    empty = vidsearch("search", "   ", "--url", service.url)
    assert empty.returncode == 2 and "empty" in empty.stderr and "Traceback" not in empty.stderr
    down = vidsearch("search", "cake", "--url", "http://127.0.0.1:9")
    assert down.returncode == 2 and "cannot reach the service" in down.stderr
