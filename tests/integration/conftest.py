"""One running service for every HTTP test: real Ray, real Qdrant (local mode), real videos."""

from __future__ import annotations

import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

HELD_OUT = "google_work_interviews.mp4"  # never indexed: its clips are negatives
REPO = Path(__file__).resolve().parents[2]
EXTRA_VIDEOS = REPO.parent / "shared" / "media" / "extra" / "videos"
# Pictures for the spoken and subtitled videos: from outside the library, so no clip of a library
# video finds a second source.
SPOKEN_PICTURES = ("openshot_run.mp4", "sam2_bedroom.mp4")
TRACK_PICTURE = "ms_ladybug.wmv"
SIDECAR_VIDEO = "tractor_field_vp9.webm"  # gets a subtitle file beside it
BROKEN_SIDECAR_VIDEO = "space_shuttle_in_orbit.webm"  # gets an unreadable one (no test deletes it)
SUBTITLES = """1
00:00:02,000 --> 00:00:05,000
A marmalade sandwich for the bear.

2
00:00:06,000 --> 00:00:09,000
Tractors never sleep in the autumn.
"""


def cut(src: Path, dst: Path, start: float, seconds: float, vf: str = "scale=-2:240") -> Path:
    """An excerpt re-encoded and downscaled, with its audio re-encoded too, as a re-upload would be."""
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-ss", str(start), "-i", str(src), "-t", str(seconds), "-vf", vf,
         "-c:v", "libx264", "-crf", "30", "-preset", "veryfast", "-c:a", "aac", "-b:a", "64k", str(dst)],
        check=True,
    )
    return dst


def forget_folder(service, folder: Path) -> None:
    """Remove a folder a test added under the library, and its videos from the index."""
    for video in service.client.get("/videos").json()["videos"]:
        if video["path"].startswith(f"{folder.resolve()}/"):
            service.client.delete(f"/videos/{video['video_id']}", headers={"X-API-Key": "secret"})
    shutil.rmtree(folder, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def ray_record():
    """Keep whatever cluster record this machine had, and put it back afterwards."""
    from batch_jobs.cluster import CLUSTER_MARKER, cluster_alive

    saved = CLUSTER_MARKER.read_text() if CLUSTER_MARKER.exists() else None
    if saved is not None and cluster_alive(saved.strip()):
        pytest.skip(f"a Ray cluster is running at {saved.strip()}; the command would reuse it")
    yield
    if saved is None:
        CLUSTER_MARKER.unlink(missing_ok=True)
    else:
        CLUSTER_MARKER.write_text(saved)


@dataclass
class Service:
    client: httpx.Client
    url: str
    library: Path
    config: Path
    spoken: list  # bench.speech_corpus.Spoken: what the spoken videos say, and when

    @property
    def videos(self) -> list[Path]:
        return [p for p in self.library.iterdir() if p.suffix not in (".srt", ".vtt", ".ass", ".json")]


@pytest.fixture(scope="session")
def service(shared_videos, tiny_model_dir, tmp_path_factory):
    """The Serve application on a free port, over the shared videos (all but HELD_OUT), two videos
    that say known sentences, one with a subtitle track and subtitle files beside two shared ones
    (one unreadable), indexed first."""
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
    spoken = _text_videos(library, root / "corpus")
    config = root / "vidsearch.yaml"
    config.write_text(yaml.safe_dump({"data_dir": str(root / "data"), "semantic": {"model": str(tiny_model_dir)},
                                      "serve": {"max_upload_mb": 5, "api_key": "secret"},
                                      # Small writes: a job is seen writing long before it ends.
                                      "job": {"write_batch_size": 64}}))
    port = free_port()
    ray.init(namespace="vidsearch", include_dashboard=False, log_to_driver=False)
    try:
        summary = run_index([str(library)], load_settings(config), show_progress=False)
        service = Service(None, "", library, config, spoken)
        assert summary.indexed == len(service.videos) and not summary.failed
        assert summary.frames >= 590 and summary.video_seconds > 590  # every video, at 1 fps
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        serve.run(build_app({"config": str(config), "serve_config": str(REPO / "configs" / "serve.yaml")}))
        url = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=url, timeout=120) as client:
            yield Service(client, url, library, config, spoken)
    finally:
        serve.shutdown()
        ray.shutdown()


def _text_videos(library: Path, corpus: Path) -> list:
    """Spoken videos, an mkv with a subtitle track, and sidecar files, into `library`."""
    from bench import speech_corpus

    if not EXTRA_VIDEOS.is_dir():
        pytest.skip(f"the extra videos are not at {EXTRA_VIDEOS}")
    spoken = speech_corpus.build(corpus, [EXTRA_VIDEOS / name for name in SPOKEN_PICTURES], 8, seed=3)
    for name in sorted({s.video for s in spoken}):
        (library / name).symlink_to(corpus / name)
    srt = corpus / "track.srt"
    srt.write_text(SUBTITLES.replace("marmalade sandwich", "lighthouse keeper")
                   .replace("Tractors never sleep in the autumn", "Ladybirds count their spots"))
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(EXTRA_VIDEOS / TRACK_PICTURE), "-i", str(srt), "-map", "0:v",
         "-map", "1", "-t", "12", "-vf", "scale=-2:240", "-c:v", "libx264", "-preset", "ultrafast", "-c:s", "srt",
         "-metadata:s:s:0", "language=eng", str(library / "ladybug_subtitled.mkv")],
        check=True,
    )
    # Files found through a symlink are indexed at the path it points to, so these two are copies:
    # their subtitle files sit beside them.
    for name in (SIDECAR_VIDEO, BROKEN_SIDECAR_VIDEO):
        target = (library / name).resolve()
        (library / name).unlink()
        shutil.copyfile(target, library / name)
    (library / Path(SIDECAR_VIDEO).with_suffix(".en.srt").name).write_text(SUBTITLES)
    (library / Path(BROKEN_SIDECAR_VIDEO).with_suffix(".srt").name).write_bytes(b"\x00\xff not subtitles \x00" * 20)
    return spoken
