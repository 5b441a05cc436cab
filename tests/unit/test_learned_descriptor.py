"""The hook for a learned copy descriptor (vidsearch.embedders.descriptors), through the code a
library uses: weights loaded from a TorchScript file (SSCD's form) or a transformers directory,
a library indexed with them (the store sized for them, each record naming them), clips matched
by them, and clear errors where they are missing or do not fit the store.

No learned copy descriptor's weights can be had here: the TorchScript model is a stand-in network
with known behaviour (an 8x8 grey thumbnail less its mean), and the transformers one a tiny
randomly initialised ViT. Neither is a descriptor worth matching with; the plumbing is what is
tested."""

import pickle
import subprocess

import numpy as np
import pytest
import torch

from tests.conftest import open_test_store
from tests.unit.test_sampling_rate import index, plan_of
from vidsearch.clips import clip_vectors
from vidsearch.config import DescriptorSettings, Settings
from vidsearch.copy_index import CopyIndex
from vidsearch.embedders.descriptors import DCT, DescriptorUnavailable, descriptor_version, load_descriptor
from vidsearch.matching import match_clip
from vidsearch.media.thumbnails import ThumbnailStore
from vidsearch.store import StoreError

DIM = 64


class Thumbnail(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        small = torch.nn.functional.adaptive_avg_pool2d(x.mean(dim=1, keepdim=True), 8).flatten(1)
        return small - small.mean(dim=1, keepdim=True)


@pytest.fixture(scope="module")
def scripted(tmp_path_factory):
    path = tmp_path_factory.mktemp("descriptor") / "thumbnail.pt"
    torch.jit.script(Thumbnail()).save(str(path))
    return path


def frames(n: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 255, (90, 160, 3), dtype=np.uint8) for _ in range(n)]


def test_a_torchscript_descriptor_describes_frames_as_unit_vectors(scripted):
    settings = DescriptorSettings(model=str(scripted), dim=DIM, image_size=64)
    d = load_descriptor(settings)
    vectors = d.describe(frames(5))
    assert vectors.shape == (5, DIM) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.allclose(d.describe(frames(5)), vectors)  # deterministic
    # Not linear in a low-passed picture: matching must not map its vectors through crop windows.
    assert not d.linear and d.flip is None
    assert d.version == descriptor_version(settings) != DCT.version
    assert load_descriptor(settings) is d  # loaded once per process
    assert pickle.loads(pickle.dumps(DCT)) is DCT


def test_a_descriptor_of_another_size_is_refused_with_its_size(scripted):
    with pytest.raises(DescriptorUnavailable, match=f"gives {DIM}-d vectors.*descriptor.dim to {DIM}"):
        load_descriptor(DescriptorSettings(model=str(scripted), dim=512, image_size=64))


def test_a_transformers_descriptor_loads_like_the_semantic_model(tmp_path):
    from transformers import ViTConfig, ViTImageProcessor, ViTModel

    config = ViTConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=37,
                       image_size=32, patch_size=8)
    torch.manual_seed(0)
    ViTModel(config).save_pretrained(tmp_path)
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(tmp_path)
    d = load_descriptor(DescriptorSettings(model=str(tmp_path), dim=32))
    vectors = d.describe(frames(3))
    assert vectors.shape == (3, 32) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert d.size == 32  # the processor's input size, not the TorchScript default


def test_missing_weights_name_the_model_and_the_weight_free_default(offline_hub):
    with pytest.raises(DescriptorUnavailable) as e:
        load_descriptor(DescriptorSettings(model="someone/sscd-like", dim=512))
    assert "someone/sscd-like" in str(e.value) and "`dct`" in str(e.value)


def test_dct_takes_no_other_size():
    with pytest.raises(ValueError, match="63-d"):
        DescriptorSettings(dim=512)


@pytest.mark.parametrize("engine", ["edge", "server-standin"])
def test_a_library_described_by_a_learned_descriptor_matches_its_clips(engine, scripted, video_factory, tmp_path):
    settings = Settings(data_dir=tmp_path, descriptor={"model": str(scripted), "dim": DIM, "image_size": 64},
                        scenes={"enabled": False}, copies={"enabled": False})
    life = video_factory("learned-life.mp4", seconds=20, source="life", audio=False)
    other = video_factory("learned-testsrc.mp4", seconds=20, source="testsrc2", audio=False)
    store = open_test_store(engine, tmp_path / "store", copy_dim=DIM)
    try:
        index([life, other], store, settings, ThumbnailStore(settings.thumbnails_dir, settings.sampling.fps))
        records = {r.path: r for r in store.list_videos()}
        assert {r.copy_descriptor for r in records.values()} == {descriptor_version(settings.descriptor)}
        assert store.copy_dim == DIM
        assert plan_of([life, other], store, settings).to_index == []
        # Under the weight-free default the library is stale: every video is described again.
        assert len(plan_of([life, other], store, Settings(data_dir=tmp_path)).to_index) == 2
        library = CopyIndex(store.copy_dim)
        library.sync(store)

        clip = tmp_path / "clip.mp4"  # 8 s from 6 s in, at half size, re-encoded
        subprocess.run(["ffmpeg", "-v", "error", "-ss", "6", "-t", "8", "-i", str(life), "-vf", "scale=160:-2",
                        "-c:v", "libx264", "-crf", "30", str(clip)], check=True)
        vectors = clip_vectors(str(clip), descriptor=load_descriptor(settings.descriptor))
        assert vectors.copy.shape[1] == DIM and vectors.sides is None  # no source-side windows to compare
        # A clip's vectors travel between the folder job's tasks: the descriptor goes by its settings.
        assert pickle.loads(pickle.dumps(vectors)).descriptor is vectors.descriptor
        matches = match_clip(store, library, vectors)
        assert matches and matches[0].video_id == records[str(life)].video_id, matches
        best = matches[0]
        assert best.source_start_s - best.query_start_s == pytest.approx(6.0, abs=1.0)
        assert not best.flipped
    finally:
        store.close()


def test_a_store_keeps_the_copy_size_it_was_made_with(tmp_path):
    store = open_test_store("edge", tmp_path / "store")
    store.close()
    store = open_test_store("edge", tmp_path / "store", copy_dim=DIM)  # reopened for another descriptor
    try:
        assert store.copy_dim == 63
        with pytest.raises(StoreError, match=f"63-d copy vectors.*'sscd' gives {DIM}-d"):
            store.check_copy_size(DIM, "sscd")
    finally:
        store.close()
