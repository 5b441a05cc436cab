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

from vidsearch.embedders import runtimes

log = logging.getLogger(__name__)

_WEIGHT_PATTERNS = ["*.json", "*.safetensors", "*.model", "*.txt"]


class ModelUnavailable(RuntimeError):
    """The semantic model's weights cannot be found or fetched; the message says how to provide them."""


def resolve_model(model: str, revision: str | None = None, kind: str = "semantic model") -> Path:
    """A local directory holding `model`: the directory itself, the HF cache, or a fresh download.
    `kind` names what the model is for in the errors (the semantic model, a copy descriptor)."""
    local = Path(model).expanduser()
    if local.is_dir():
        if not (local / "config.json").exists():
            raise ModelUnavailable(f"{kind} directory {local} has no config.json")
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
        raise ModelUnavailable(_missing(model, "it is not in the HF cache and HF_HUB_OFFLINE is set", kind))
    try:
        return Path(snapshot_download(model, revision=revision, allow_patterns=_WEIGHT_PATTERNS))
    except Exception as e:
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelUnavailable(_missing(model, f"it is not cached and could not be downloaded ({reason})", kind)) from None


def _missing(model: str, why: str, kind: str = "semantic model") -> str:
    if kind != "semantic model":
        return (
            f"{kind} '{model}' is unavailable: {why}. Provide it by running `huggingface-cli download {model}` "
            f"where the hub is reachable and copying the HF cache (~/.cache/huggingface, or $HF_HOME) here, or set "
            f"VIDSEARCH_DESCRIPTOR__MODEL to a local directory saved with save_pretrained or to a TorchScript file; "
            f"`dct` (the default) needs no weights."
        )
    return (
        f"semantic model '{model}' is unavailable: {why}. Searching the picture by text or image "
        f"needs it; search of what is said and subtitled, clip matching, audio fingerprints and "
        f"thumbnails work without it. Provide it by running "
        f"`huggingface-cli download {model}` where the hub is reachable and copying the HF cache "
        f"(~/.cache/huggingface, or $HF_HOME) here, or set VIDSEARCH_SEMANTIC__MODEL to a local "
        f"directory saved with save_pretrained."
    )


class SemanticEmbedder:
    """Image and text towers of a CLIP-family model; vectors are float32 and L2-normalised.

    `runtime` and `precision` say where the towers run (`runtimes.choose`: auto is ONNX Runtime
    with int8 weights on CPU, torch bf16 on a GPU). A tower whose export fails runs on torch fp32,
    and `runtimes_used` says so. The towers named in `prepare` are made ready now; the other on
    first use. `spin`: ONNX Runtime's threads wait for the next call spinning (a job's batches come
    back to back) or asleep (a service, whose other processes share the cores)."""

    def __init__(
        self, model_dir: Path | str, device: str = "auto", runtime: str = "auto", precision: str = "auto",
        cpu_threads: int | None = None, prepare: tuple[str, ...] = ("image", "text"), spin: bool = True,
    ):
        import torch
        from transformers import AutoConfig, AutoImageProcessor

        self.model_dir = Path(model_dir)
        self.device = torch.device(runtimes.device_for(device, runtime, torch.cuda.is_available()))
        if cpu_threads and self.device.type == "cpu":
            # Ray pins a process's threads to its CPU reservation (OMP_NUM_THREADS), 1 for a
            # fractional one: a service replica may ask for more.
            torch.set_num_threads(cpu_threads)
        self.runtime, self.precision = runtimes.choose(runtime, precision, self.device.type)
        self.config = AutoConfig.from_pretrained(self.model_dir)
        processor = AutoImageProcessor.from_pretrained(self.model_dir)
        size = processor.size
        self.image_size = int(size.get("height") or size.get("shortest_edge"))
        self._mean, self._std = list(processor.image_mean), list(processor.image_std)
        self._scale = float(getattr(processor, "rescale_factor", 1 / 255))
        self.dim = model_vector_size(self.model_dir)
        self.name = str(self.config.name_or_path or self.model_dir)
        self.runtimes_used: dict[str, str] = {}
        self._towers: dict[str, object] = {}
        self._model = None
        self._model_dtype = None
        self._tokenizer = None
        self._spin = spin
        for tower in prepare:
            self._tower(tower)
        if self.runtime == "onnx" and all(t in self._towers for t in ("image", "text")):
            self._model = None  # both run on ONNX Runtime: the torch weights are not needed

    def prepare_image(self, image: np.ndarray) -> np.ndarray:
        """Resize an RGB uint8 frame to the model's square input (kept uint8: 4x less to move)."""
        if image.shape[:2] == (self.image_size, self.image_size):
            return image
        return prepare_image(image, self.image_size)

    def embed_images(self, images: np.ndarray) -> np.ndarray:
        """(N, S, S, 3) uint8 frames at `image_size` -> (N, dim) unit vectors."""
        return self._tower("image")(pixels=np.ascontiguousarray(images, dtype=np.uint8))

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        from transformers import AutoTokenizer

        if self._tokenizer is None:
            self._tokenizer = AutoTokenizer.from_pretrained(self.model_dir)
        # SigLIP was trained on max-length padding; CLIP ignores padding through its mask.
        tokens = self._tokenizer(
            texts, padding="max_length", truncation=True, return_tensors="np", max_length=self._max_length(),
        )
        arrays = {k: np.asarray(tokens[k], dtype=np.int64) for k in ("input_ids", "attention_mask") if k in tokens}
        return self._tower("text")(**arrays)

    def _max_length(self) -> int:
        return int(getattr(self.config.text_config, "max_position_embeddings", 64))

    def _tower(self, name: str):
        if name not in self._towers:
            self._towers[name] = self._make_tower(name)
        return self._towers[name]

    def _make_tower(self, name: str):
        import torch

        if self.runtime == "onnx":
            try:
                path = runtimes.cached_export(self.model_dir, name, self.precision, lambda p: self._export(name, p))
                tower = runtimes.OnnxTower(path, torch.get_num_threads(), self._spin)
                self.runtimes_used[name] = f"onnx {self.precision}"
                return tower
            except Exception as e:  # noqa: BLE001 -- an export that fails, or a file ONNX Runtime cannot open
                reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                log.warning(
                    "semantic model %s: the %s tower could not run on ONNX Runtime %s (%s); it runs on torch fp32",
                    self.name, name, self.precision, reason,
                )
                self.runtimes_used[name] = f"torch fp32 (onnx {self.precision} failed: {reason})"
                return self._torch_tower(name, "fp32")
        self.runtimes_used[name] = f"torch {self.precision}"
        return self._torch_tower(name, self.precision)

    def _torch_tower(self, name: str, precision: str):
        import torch

        module = self._module(name, precision).to(self.device)

        def run(**arrays: np.ndarray) -> np.ndarray:
            with torch.inference_mode():
                inputs = {k: torch.from_numpy(v).to(self.device, non_blocking=True) for k, v in arrays.items()}
                return module(**inputs).cpu().numpy()

        return run

    def _module(self, name: str, precision: str):
        dtype = runtimes.torch_dtype(precision)
        model = self._weights(dtype)
        if name == "image":
            return runtimes.image_tower(model, self._scale, self._mean, self._std, dtype)
        return runtimes.text_tower(model)

    def _weights(self, dtype):
        from transformers import AutoModel

        if self._model is None or self._model_dtype != dtype:
            self._model = AutoModel.from_pretrained(self.model_dir, config=self.config, dtype=dtype).eval()
            self._model_dtype = dtype
        return self._model

    def _export(self, name: str, path: Path) -> None:
        import torch

        module = self._module(name, "fp32")
        if name == "image":
            example = {"pixels": torch.zeros((2, self.image_size, self.image_size, 3), dtype=torch.uint8)}
        else:
            length = self._max_length()
            example = {"input_ids": torch.zeros((2, length), dtype=torch.int64)}
            if "attention_mask" in self._tokenizer_inputs():
                example["attention_mask"] = torch.ones((2, length), dtype=torch.int64)
        runtimes.export_tower(module, example, path)

    def _tokenizer_inputs(self) -> list[str]:
        from transformers import AutoTokenizer

        if self._tokenizer is None:
            self._tokenizer = AutoTokenizer.from_pretrained(self.model_dir)
        return list(self._tokenizer.model_input_names)


def prepare_image(image: np.ndarray, size: int) -> np.ndarray:
    return np.asarray(Image.fromarray(image).resize((size, size), Image.Resampling.BILINEAR))


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
