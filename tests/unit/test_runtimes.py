"""The semantic towers on ONNX Runtime: exported once from the checkpoint, cached beside it, faithful
to torch fp32, rebuilt when the checkpoint changes, and torch when the export cannot be made."""

import shutil

import numpy as np
import pytest
from pydantic import ValidationError

from vidsearch.config import SemanticSettings
from vidsearch.embedders import runtimes
from vidsearch.embedders.semantic import SemanticEmbedder

TEXTS = ["a birthday cake", "dog", "the moon in space", "a person with a car"]


def frames(size: int, n: int = 6) -> np.ndarray:
    return np.random.default_rng(1).integers(0, 255, (n, size, size, 3), dtype=np.uint8)


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1)


@pytest.fixture
def model_copy(tiny_model_dir, tmp_path):
    """The checkpoint alone: without the exports other tests' runs cached beside it."""
    return shutil.copytree(tiny_model_dir, tmp_path / "model", ignore=shutil.ignore_patterns(runtimes.CACHE_DIR))


def test_int8_towers_follow_torch_fp32_and_are_cached_beside_the_model(model_copy):
    reference = SemanticEmbedder(model_copy, "cpu", "torch", "fp32")
    fast = SemanticEmbedder(model_copy, "cpu", "onnx", "int8")
    assert fast.runtimes_used == {"image": "onnx int8", "text": "onnx int8"}
    images = frames(fast.image_size)
    assert cosines(fast.embed_images(images), reference.embed_images(images)).min() >= 0.99
    assert cosines(fast.embed_texts(TEXTS), reference.embed_texts(TEXTS)).min() >= 0.99
    assert np.allclose(np.linalg.norm(fast.embed_images(images), axis=1), 1, atol=1e-5)

    exports = sorted((model_copy / runtimes.CACHE_DIR).glob("*.onnx"))
    assert [p.name.split("-")[:2] for p in exports] == [["image", "int8"], ["text", "int8"]]
    made = {p: p.stat().st_mtime_ns for p in exports}
    again = SemanticEmbedder(model_copy, "cpu", "onnx", "int8")
    assert {p: p.stat().st_mtime_ns for p in exports} == made  # read, not made again
    assert again._model is None  # and no torch weights held beside them
    assert np.allclose(again.embed_images(images), fast.embed_images(images))


def test_a_changed_checkpoint_is_exported_again(model_copy):
    import torch
    from transformers import AutoModel

    images = frames(32)
    before = SemanticEmbedder(model_copy, "cpu", "onnx", "int8", prepare=("image",)).embed_images(images)
    old = sorted((model_copy / runtimes.CACHE_DIR).glob("image-*.onnx"))
    model = AutoModel.from_pretrained(model_copy)
    with torch.no_grad():
        for p in model.vision_model.parameters():
            p.mul_(1.5)
    model.save_pretrained(model_copy)

    after = SemanticEmbedder(model_copy, "cpu", "onnx", "int8", prepare=("image",))
    new = sorted((model_copy / runtimes.CACHE_DIR).glob("image-*.onnx"))
    assert len(new) == 1 and new != old  # the old export is replaced, not kept beside
    reference = SemanticEmbedder(model_copy, "cpu", "torch", "fp32", prepare=("image",)).embed_images(images)
    assert cosines(after.embed_images(images), reference).min() >= 0.99
    assert cosines(before, reference).mean() < 0.99


def test_an_export_that_cannot_be_written_runs_on_torch_and_says_why(model_copy, tmp_path, monkeypatch, caplog):
    (model_copy / runtimes.CACHE_DIR).write_text("a file where the cache folder would be")
    (tmp_path / "cache").write_text("and here too")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    embedder = SemanticEmbedder(model_copy, "cpu", "onnx", "int8", prepare=("image",))
    assert embedder.runtimes_used["image"].startswith("torch fp32 (onnx int8 failed: cannot write the export")
    assert "runs on torch fp32" in caplog.text
    reference = SemanticEmbedder(model_copy, "cpu", "torch", "fp32", prepare=("image",))
    images = frames(32)
    assert np.allclose(embedder.embed_images(images), reference.embed_images(images), atol=1e-6)


def test_settings_refuse_what_a_runtime_cannot_run():
    with pytest.raises(ValidationError, match="use semantic.runtime onnx for int8"):
        SemanticSettings(runtime="torch", precision="int8")
    with pytest.raises(ValidationError, match="onnx runs fp32 or int8, not bf16"):
        SemanticSettings(runtime="onnx", precision="bf16")
    with pytest.raises(ValidationError, match="set semantic.device to cpu"):
        SemanticSettings(runtime="onnx", device="cuda:0")
    assert runtimes.choose("auto", "auto", "cpu") == ("onnx", "int8")
    assert runtimes.choose("auto", "auto", "cuda") == ("torch", "bf16")
    assert runtimes.choose("torch", "auto", "cpu") == ("torch", "fp32")


def test_a_service_towers_threads_sleep_between_calls(model_copy):
    def spins(embedder) -> bool:
        options = embedder._towers["image"].session.get_session_options()
        try:
            return options.get_session_config_entry("session.intra_op.allow_spinning") != "0"
        except RuntimeError:  # not set: ONNX Runtime's default, spinning
            return True

    images = frames(32)
    job = SemanticEmbedder(model_copy, "cpu", "onnx", "int8", prepare=("image",))
    service = SemanticEmbedder(model_copy, "cpu", "onnx", "int8", prepare=("image",), spin=False)
    assert spins(job) and not spins(service)
    assert np.allclose(service.embed_images(images), job.embed_images(images))
