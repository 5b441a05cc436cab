"""`vidsearch store ...` and migration on open, through the real command line."""

from __future__ import annotations

import json

import numpy as np
import pytest
from qdrant_client import QdrantClient

from tests.integration.test_index_job import run_cli
from tests.unit.test_store import frames, record
from vidsearch.config import Settings

pytestmark = [pytest.mark.integration]


def local_mode_data_dir(data_dir, videos=3, per_video=30):
    """A data dir as earlier releases left it: qdrant-client's local mode under data_dir/qdrant."""
    from vidsearch.store.server import ServerStore

    settings = Settings(data_dir=data_dir)
    old = ServerStore(QdrantClient(path=str(data_dir / "qdrant")), settings.qdrant, 768, indexes=False)
    for i in range(videos):
        r = record(f"old{i}", f"/library/old{i}.mp4", "complete")
        old.put_video(r)
        _, seconds, copy, semantic = frames(per_video, dim=768, seed=i)
        old.upsert_frames(r.frame_payload(), np.arange(per_video), seconds, copy, semantic)
    old.close()


def test_an_old_data_dir_migrates_on_first_use_and_says_so(tmp_path):
    local_mode_data_dir(tmp_path)
    done = run_cli("stats", "--json", "--data-dir", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["frames"] == 90 and json.loads(done.stdout)["complete"] == 3
    assert "migrating the embedded store" in done.stderr and "migrated 3 videos and 90 frames" in done.stderr
    assert (tmp_path / "qdrant.local-mode-migrated").is_dir() and not (tmp_path / "qdrant").exists()
    again = run_cli("store", "migrate", "--data-dir", str(tmp_path))
    assert again.returncode == 0 and "nothing to migrate" in again.stdout


def test_store_migrate_ahead_of_time(tmp_path):
    local_mode_data_dir(tmp_path, videos=2)
    done = run_cli("store", "migrate", "--json", "--data-dir", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"migrated": True, "videos": 2, "frames": 60}
    listed = run_cli("videos", "--json", "--data-dir", str(tmp_path))
    assert sorted(v["path"] for v in json.loads(listed.stdout)) == ["/library/old0.mp4", "/library/old1.mp4"]


def test_push_and_pull_say_what_is_wrong(tmp_path):
    pushed = run_cli("store", "push", "--to", "http://127.0.0.1:9", "--data-dir", str(tmp_path))
    assert pushed.returncode == 2 and "cannot reach Qdrant at http://127.0.0.1:9" in pushed.stderr
    pulled = run_cli("store", "pull", "--from", "http://127.0.0.1:9", "--data-dir", str(tmp_path))
    assert pulled.returncode == 2 and "cannot reach Qdrant at http://127.0.0.1:9" in pulled.stderr
    served = run_cli("store", "push", "--to", "http://127.0.0.1:9", "--data-dir", str(tmp_path),
                     env={"QDRANT_URL": "http://127.0.0.1:9"})
    assert served.returncode == 2 and "moves the embedded store" in served.stderr
    assert "Traceback" not in pushed.stderr + pulled.stderr + served.stderr
