"""One running service for every HTTP test: real Ray, real Qdrant (local mode), real videos."""

from __future__ import annotations

import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

HELD_OUT = "google_work_interviews.mp4"  # never indexed: its clips are negatives
REPO = Path(__file__).resolve().parents[2]


def cut(src: Path, dst: Path, start: float, seconds: float, vf: str = "scale=-2:240") -> Path:
    """An excerpt re-encoded and downscaled, with its audio re-encoded too, as a re-upload would be."""
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-ss", str(start), "-i", str(src), "-t", str(seconds), "-vf", vf,
         "-c:v", "libx264", "-crf", "30", "-preset", "veryfast", "-c:a", "aac", "-b:a", "64k", str(dst)],
        check=True,
    )
    return dst


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Service:
    client: httpx.Client
    url: str
    library: Path
    config: Path


@pytest.fixture(scope="session")
def service(shared_videos, tiny_model_dir, tmp_path_factory):
    """The Serve application on a free port, over the shared videos (all but HELD_OUT), indexed first."""
    import ray
    from ray import serve

    from batch_jobs.index_videos import run_index
    from serve_app.app import build_app
    from vidsearch.config import load_settings

    root = tmp_path_factory.mktemp("service")
    library = root / "library"
    library.mkdir()
    for video in shared_videos.iterdir():
        if video.name != HELD_OUT:
            (library / video.name).symlink_to(video)
    config = root / "vidsearch.yaml"
    config.write_text(yaml.safe_dump({"data_dir": str(root / "data"), "semantic": {"model": str(tiny_model_dir)},
                                      "serve": {"max_upload_mb": 5, "api_key": "secret"}}))
    port = free_port()
    ray.init(namespace="vidsearch", include_dashboard=False, log_to_driver=False)
    try:
        summary = run_index([str(library)], load_settings(config), show_progress=False)
        assert summary.indexed == len(list(library.iterdir()))
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        serve.run(build_app({"config": str(config), "serve_config": str(REPO / "configs" / "serve.yaml")}))
        url = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=url, timeout=120) as client:
            yield Service(client, url, library, config)
    finally:
        serve.shutdown()
        ray.shutdown()
