"""Semantic embeddings of frames and text: SigLIP or any CLIP through HuggingFace transformers.

Weights come from `from_pretrained` on a local directory or a hub model id (the HF cache is used and
honoured: `HF_HOME`, `HF_HUB_OFFLINE`). Frames are resized by the decoder pipeline to the model's
square input (`prepare_image`): SigLIP's own processor squashes to a square too; for CLIP this keeps
the whole frame instead of a centre crop, so nothing at the edges of a shot becomes unfindable.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
from PIL import Image

log = logging.getLogger(__name__)

_WEIGHT_PATTERNS = ["*.json", "*.safetensors", "*.model", "*.txt"]


class ModelUnavailable(RuntimeError):
    """The semantic model's weights cannot be found or fetched; the message says how to provide them."""


def resolve_model(model: str, revision: str | None = None) -> Path:
    """A local directory holding `model`: the directory itself, the HF cache, or a fresh download."""
    local = Path(model).expanduser()
    if local.is_dir():
        if not (local / "config.json").exists():
            raise ModelUnavailable(f"semantic model directory {local} has no config.json")
        return local
    from huggingface_hub import snapshot_download

    try:
        return Path(
            snapshot_download(
                model, revision=revision, allow_patterns=_WEIGHT_PATTERNS, local_files_only=True
            )
        )
    except Exception:
        pass  # not cached: try the hub unless told to stay offline
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false"):
        raise ModelUnavailable(_missing(model, "it is not in the HF cache and HF_HUB_OFFLINE is set"))
    try:
        return Path(snapshot_download(model, revision=revision, allow_patterns=_WEIGHT_PATTERNS))
    except Exception as e:
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelUnavailable(_missing(model, f"it is not cached and could not be downloaded ({reason})")) from None


def _missing(model: str, why: str) -> str:
    return (
        f"semantic model '{model}' is unavailable: {why}. Searching the picture by text or image "
        f"needs it; search of what is said and subtitled, clip matching, audio fingerprints and "
        f"thumbnails work without it. Provide it by running "
        f"`huggingface-cli download {model}` where the hub is reachable and copying the HF cache "
        f"(~/.cache/huggingface, or $HF_HOME) here, or set VIDSEARCH_SEMANTIC__MODEL to a local "
        f"directory saved with save_pretrained."
    )


def _device(name: str):
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


class SemanticEmbedder:
    """Image and text towers of a CLIP-family model; vectors are float32 and L2-normalised."""

    def __init__(self, model_dir: Path | str, device: str = "auto", dtype: str = "auto", cpu_threads: int | None = None):
        import torch
        from transformers import AutoConfig, AutoImageProcessor, AutoModel

        self.model_dir = Path(model_dir)
        self.device = _device(device)
        if cpu_threads and self.device.type == "cpu":
            # Ray pins a process's threads to its CPU reservation (OMP_NUM_THREADS), 1 for a
            # fractional one: a service replica may ask for more.
            torch.set_num_threads(cpu_threads)
        if dtype == "auto":
            dtype = "bfloat16" if self.device.type == "cuda" else "float32"
        self.dtype = getattr(torch, dtype)
        config = AutoConfig.from_pretrained(self.model_dir)
        self.model = AutoModel.from_pretrained(self.model_dir, config=config, dtype=self.dtype)
        self.model.to(self.device).eval()
        processor = AutoImageProcessor.from_pretrained(self.model_dir)
        size = processor.size
        self.image_size = int(size.get("height") or size.get("shortest_edge"))
        self._mean = torch.tensor(processor.image_mean, device=self.device).view(1, 3, 1, 1)
        self._std = torch.tensor(processor.image_std, device=self.device).view(1, 3, 1, 1)
        self._scale = float(getattr(processor, "rescale_factor", 1 / 255))
        self._tokenizer = None
        self.dim = int(self.embed_images(np.zeros((1, self.image_size, self.image_size, 3), np.uint8)).shape[1])
        self.name = str(config.name_or_path or self.model_dir)

    def prepare_image(self, image: np.ndarray) -> np.ndarray:
        """Resize an RGB uint8 frame to the model's square input (kept uint8: 4x less to move)."""
        if image.shape[:2] == (self.image_size, self.image_size):
            return image
        return prepare_image(image, self.image_size)

    def embed_images(self, images: np.ndarray) -> np.ndarray:
        """(N, S, S, 3) uint8 frames at `image_size` -> (N, dim) unit vectors."""
        import torch

        with torch.inference_mode():
            pixels = torch.from_numpy(np.ascontiguousarray(images)).to(self.device, non_blocking=True)
            pixels = pixels.permute(0, 3, 1, 2).float().mul_(self._scale).sub_(self._mean).div_(self._std)
            out = self.model.get_image_features(pixel_values=pixels.to(self.dtype))
            return _unit(getattr(out, "pooler_output", out))

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        import torch
        from transformers import AutoTokenizer

        if self._tokenizer is None:
            self._tokenizer = AutoTokenizer.from_pretrained(self.model_dir)
        # SigLIP was trained on max-length padding; CLIP ignores padding through its mask.
        tokens = self._tokenizer(
            texts, padding="max_length", truncation=True, return_tensors="pt",
            max_length=getattr(self.model.config.text_config, "max_position_embeddings", 64),
        ).to(self.device)
        with torch.inference_mode():
            out = self.model.get_text_features(**tokens)
            return _unit(getattr(out, "pooler_output", out))


def prepare_image(image: np.ndarray, size: int) -> np.ndarray:
    return np.asarray(Image.fromarray(image).resize((size, size), Image.Resampling.BILINEAR))


def _unit(features) -> np.ndarray:
    vectors = features.float().cpu().numpy()
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


def model_image_size(model_dir: Path | str) -> int:
    """The square input size the model's image processor expects, read without loading weights."""
    from transformers import AutoImageProcessor

    size = AutoImageProcessor.from_pretrained(model_dir).size
    return int(size.get("height") or size.get("shortest_edge"))


def model_vector_size(model_dir: Path | str) -> int:
    """Size of the model's image embeddings, read from its config without loading weights."""
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(model_dir)
    # CLIP projects into projection_dim; SigLIP's embedding is the vision tower's pooled output.
    return int(getattr(config, "projection_dim", None) or config.vision_config.hidden_size)
