"""Shared fixtures: real videos generated with ffmpeg, the shared corpus, a tiny SigLIP model."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

SHARED_VIDEOS = Path(
    os.environ.get("VIDSEARCH_TEST_MEDIA", Path(__file__).resolve().parents[2] / "shared" / "media" / "videos")
)

# Distinct moving pictures: each lavfi source gives content the others do not resemble.
SOURCES = {
    "testsrc2": "testsrc2=size={w}x{h}:rate={fps}",
    "mandelbrot": "mandelbrot=size={w}x{h}:rate={fps}",
    "life": "life=size={w}x{h}:rate={fps}:mold=10:ratio=0.1:death_color=#C83232:life_color=#00ff00:seed=7",
    "cellauto": "cellauto=size={w}x{h}:rate={fps}:rule=110:seed=3",
}


def make_video(
    path: Path,
    seconds: float = 6,
    size: tuple[int, int] = (320, 240),
    fps: int = 25,
    source: str = "testsrc2",
    audio: bool = True,
    codec: list[str] | None = None,
    extra: list[str] | None = None,
) -> Path:
    """Encode a real video with ffmpeg's generated sources (picture and, optionally, a tone)."""
    w, h = size
    cmd = ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", SOURCES[source].format(w=w, h=h, fps=fps)]
    if audio:
        cmd += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100:beep_factor=4"]
    cmd += ["-t", str(seconds)]
    cmd += codec or ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]
    if audio:
        cmd += ["-c:a", "aac" if path.suffix in (".mp4", ".mov", ".mkv") else "libopus", "-shortest"]
    cmd += (extra or []) + [str(path)]
    subprocess.run(cmd, check=True)
    return path


@pytest.fixture(scope="session")
def video_factory(tmp_path_factory):
    root = tmp_path_factory.mktemp("videos")

    def factory(name: str, **kwargs) -> Path:
        target = root / name
        if not target.exists():
            make_video(target, **kwargs)
        return target

    return factory


@pytest.fixture(scope="session")
def shared_videos() -> Path:
    if not SHARED_VIDEOS.is_dir() or not any(SHARED_VIDEOS.iterdir()):
        pytest.skip(f"shared real-video corpus not found at {SHARED_VIDEOS}")
    return SHARED_VIDEOS


def make_tiny_siglip(path: Path) -> Path:
    """A randomly initialised SigLIP small enough for tests, saved like a real checkpoint."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast, SiglipConfig, SiglipImageProcessor, SiglipModel

    torch.manual_seed(0)
    words = ["<pad>", "<unk>", "</s>"] + "a the cake birthday dog cat car bunny moon space person".split()
    tokenizer = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    config = SiglipConfig(
        text_config=dict(
            vocab_size=len(words), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
            num_attention_heads=2, max_position_embeddings=16, pad_token_id=0, eos_token_id=2,
        ),
        vision_config=dict(
            image_size=32, patch_size=8, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
            num_attention_heads=2,
        ),
    )
    SiglipModel(config).save_pretrained(path)
    SiglipImageProcessor(size={"height": 32, "width": 32}).save_pretrained(path)
    PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, pad_token="<pad>", unk_token="<unk>", eos_token="</s>", model_max_length=16
    ).save_pretrained(path)
    return path


TINY_DIM = 32


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    return make_tiny_siglip(tmp_path_factory.mktemp("tiny-siglip"))


@pytest.fixture
def offline_hub(monkeypatch, tmp_path):
    """An empty HF cache with the hub switched off: what a machine without the weights sees."""
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def pytest_collection_modifyitems(config, items):
    if shutil.which("ffmpeg") is None:
        raise pytest.UsageError("ffmpeg is not installed: run `make test`, which installs it")
    if os.environ.get("CI") and not SHARED_VIDEOS.is_dir():
        print(f"note: {SHARED_VIDEOS} is absent; tests on the real-video corpus will skip")


def rotate_video(src: Path, dst: Path, degrees: int = 90) -> Path:
    """Tag a video to be shown turned `degrees` clockwise, as phones record portrait video."""
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(src), "-c", "copy", "-metadata:s:v:0", f"rotate={degrees}", str(dst)],
        check=True,
    )
    return dst


# -- stores ----------------------------------------------------------------------------------------
# Every test that takes `store` runs on both implementations of the store contract: the embedded
# Edge store, and the server store. There is no Qdrant server here, so the server store runs over
# qdrant-client's local mode, its stand-in for a server (same client API, pure Python engine).
STORE_ENGINES = ["edge", "server-standin"]


def open_test_store(engine: str, folder: Path, semantic_dim: int = 8, copy_dim: int = 63, **qdrant):
    from qdrant_client import QdrantClient

    from vidsearch.config import QdrantSettings
    from vidsearch.store.edge import EdgeStore
    from vidsearch.store.server import ServerStore

    settings = QdrantSettings(**qdrant)
    if engine == "edge":
        return EdgeStore.open(settings, folder, semantic_dim, copy_dim=copy_dim)
    folder.mkdir(parents=True, exist_ok=True)
    return ServerStore(QdrantClient(path=str(folder)), settings, semantic_dim, indexes=False, copy_dim=copy_dim)


def copy_library(folder: Path, names: list[str]):
    """The named videos' 1 fps copy vectors in an in-memory copy index, and their paths by video id."""
    from vidsearch.clips import clip_vectors
    from vidsearch.copy_index import CopyIndex
    from vidsearch.store import ids

    index, paths = CopyIndex(), {}
    for name in names:
        clip = clip_vectors(str(folder / name), fine_max_s=0)
        index.add(ids.video_id(name), clip.seconds, clip.copy)
        paths[ids.video_id(name)] = str(folder / name)
    return index, paths


def register_videos(store, paths: dict[str, str]) -> None:
    """Records of indexed videos, so that matches can name them."""
    from vidsearch.store.records import VideoRecord

    for vid, path in paths.items():
        store.put_video(VideoRecord(video_id=vid, path=path, checksum=vid, size_bytes=1, status="complete"))


@pytest.fixture(params=STORE_ENGINES)
def store(request, tmp_path):
    s = open_test_store(request.param, tmp_path / "store")
    yield s
    s.close()
