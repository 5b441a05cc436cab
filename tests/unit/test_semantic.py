import numpy as np
import pytest

from tests.conftest import TINY_DIM
from vidsearch.embedders.semantic import (
    ModelUnavailable,
    SemanticEmbedder,
    model_image_size,
    model_vector_size,
    resolve_model,
)


def test_tiny_model_through_the_real_loading_code(tiny_model_dir):
    embedder = SemanticEmbedder(resolve_model(str(tiny_model_dir)), device="cpu")
    assert (embedder.dim, embedder.image_size) == (TINY_DIM, 32)
    assert (model_vector_size(tiny_model_dir), model_image_size(tiny_model_dir)) == (TINY_DIM, 32)
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (3, 90, 160, 3), dtype=np.uint8)
    vectors = embedder.embed_images(np.stack([embedder.prepare_image(f) for f in frames]))
    assert vectors.shape == (3, TINY_DIM) and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    texts = embedder.embed_texts(["birthday cake", "a dog"])
    assert texts.shape == (2, TINY_DIM) and not np.allclose(texts[0], texts[1])


def test_missing_weights_say_which_model_and_how(offline_hub):
    with pytest.raises(ModelUnavailable) as e:
        resolve_model("google/siglip-base-patch16-224")
    message = str(e.value)
    assert "google/siglip-base-patch16-224" in message
    assert "huggingface-cli download" in message and "VIDSEARCH_SEMANTIC__MODEL" in message


def test_local_dir_without_config(tmp_path):
    with pytest.raises(ModelUnavailable, match="no config.json"):
        resolve_model(str(tmp_path))
