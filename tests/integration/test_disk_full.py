"""A disk that fills up while an index job writes: the job stops with a clear error, what it
finished stays complete, nothing half-written is marked complete, and once there is room again a
re-run completes the rest.

The data dir is a small tmpfs of its own, mounted in a private mount namespace (`unshare`), so no
real disk fills; the phases run inside it (this module run as a script) and report as JSON."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.conftest import REPO

BIN = Path(sys.executable).parent
RESERVE_MB = 256  # min_free_mb of these runs: opening needs half of it (the engine's segments)
SLACK_MB = 0.3  # room left above the reserve: the job gets some way, then meets it


def can_mount() -> bool:
    return shutil.which("unshare") is not None and subprocess.run(
        ["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=1m tmpfs /mnt"], capture_output=True).returncode == 0


def test_a_full_disk_stops_the_job_clearly_and_keeps_what_is_complete(shared_videos, tmp_path):
    if not can_mount():
        pytest.skip("needs `unshare -rm` to mount a small tmpfs in a private namespace (user namespaces are off here)")
    first, rest = tmp_path / "first", tmp_path / "rest"
    first.mkdir()
    rest.mkdir()
    shutil.copy(shared_videos / "bear_vp9_opus.webm", first)
    for name in ("tractor_field_vp9.webm", "asl_sign_book.mkv", "bottle_on_table.mp4", "chaplin_street_scene.mp4"):
        shutil.copy(shared_videos / name, rest)
    mount, report = tmp_path / "mount", tmp_path / "report.json"
    mount.mkdir()
    done = subprocess.run(["unshare", "-rm", str(sys.executable), "-m", "tests.integration.test_disk_full",
                           str(mount), str(first), str(rest), str(report)], cwd=REPO, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    phases = json.loads(report.read_text())

    assert phases["first"]["code"] == 0
    full = phases["full"]
    assert full["code"] == 2, full["err"]
    assert "is full" in full["err"] and "free some space and run again" in full["err"]
    assert "Traceback" not in full["err"]
    by_name = {Path(v["path"]).name: v for v in full["videos"]}
    assert by_name["bear_vp9_opus.webm"]["status"] == "complete"  # finished before: untouched
    assert any(v["status"] != "complete" for v in full["videos"])  # the job stopped short
    for video in full["videos"]:  # complete means whole: every frame point and thumbnail
        if video["status"] == "complete":
            assert video["frames"] == video["points"] == video["thumbnails"] > 0, video

    again = phases["again"]
    assert again["code"] == 0, again["err"]
    assert len(again["videos"]) == 5
    assert all(v["status"] == "complete" and v["frames"] == v["points"] == v["thumbnails"] for v in again["videos"])


def _phases(mount: Path, first: Path, rest: Path, report: Path) -> None:
    """Inside the namespace: a 700 MB tmpfs at `mount`, then three `vidsearch index` runs."""
    from vidsearch.config import load_settings
    from vidsearch.store import open_store
    from vidsearch.store.space import free_mb

    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=700m", "tmpfs", str(mount)], check=True)
    data = mount / "data"
    env = {**os.environ, "VIDSEARCH_SEMANTIC__ENABLED": "false", "VIDSEARCH_SPEECH__ENABLED": "false",
           "VIDSEARCH_MIN_FREE_MB": str(RESERVE_MB), "RAY_ADDRESS": ""}

    def index(*paths: Path) -> dict:
        run = subprocess.run([str(BIN / "vidsearch"), "index", *map(str, paths), "--data-dir", str(data)],
                             env=env, capture_output=True, text=True, timeout=300)
        settings = load_settings(data_dir=data, min_free_mb=RESERVE_MB)
        store = open_store(settings)
        try:
            videos = [{"path": r.path, "status": r.status, "frames": r.frames, "points": store.count_frames(r.video_id),
                       "thumbnails": len(list((settings.thumbnails_dir / r.video_id).glob("*.jpg")))}
                      for r in store.list_videos()]
        finally:
            store.close()
        return {"code": run.returncode, "err": run.stderr[-4000:], "videos": videos}

    phases = {"first": index(first)}
    ballast = mount / "ballast"
    with open(ballast, "wb") as f:  # the rest of the disk fills up, but for a little above the reserve
        f.write(b"\0" * int((free_mb(mount) - RESERVE_MB - SLACK_MB) * (1 << 20)))
    phases["full"] = index(first, rest)
    ballast.unlink()
    phases["again"] = index(first, rest)
    report.write_text(json.dumps(phases))


if __name__ == "__main__":
    _phases(*map(Path, sys.argv[1:5]))
