"""The copy descriptor a library is described with: what indexing and matching ask of one.

The default is the weight-free DCT descriptor (`embedders.copy`). Its vectors are linear in a
low-passed picture, which matching leans on: a window of the picture (a vertical cut, a zoom, the
picture less a side) is a linear map of the whole frame's vector (`vidsearch.crops`), and a
mirrored frame is the vector times a sign mask (`copy.HFLIP`). A learned descriptor (an SSCD-like
network: trained so that a frame and its edited copies lie close) has neither property, so matching
describes the clip's crops themselves and skips the source-side windows, and it is trusted to
have learned mirroring or not.

A descriptor also says how its cosines read: its alignment params (what similarity is strong
evidence of a copy) and its match threshold. The DCT's are fitted (alignment.py); a learned one's
come from the settings and must be fitted on the user's own corpus with `bench/match_eval.py --fit`.

Learned weights load like the semantic model's: a HuggingFace model id or a local directory saved
with `save_pretrained` (the HF cache honoured), or a TorchScript file, the form SSCD is released in.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
from PIL import Image

from vidsearch.alignment import DEFAULT_PARAMS, MATCH_THRESHOLD, AlignParams

if TYPE_CHECKING:
    from vidsearch.config import DescriptorSettings

log = logging.getLogger(__name__)


class CopyDescriptor(Protocol):
    version: str  # named in each video's record: frames described by another are described again
    dim: int
    linear: bool  # crops.WindowMap applies to its vectors
    flip: np.ndarray | None  # sign mask that mirrors a vector; None: mirrored frames are not looked for apart
    params: AlignParams
    threshold: float

    def describe(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """(n, dim) float32 unit vectors of RGB uint8 frames of any sizes."""
        ...

    def null_vectors(self) -> np.ndarray:
        """(k, dim): vectors of frames that say nothing about their source (a flat picture)."""
        ...

    def prepare(self, image: np.ndarray) -> np.ndarray:
        """What `describe` reads of an RGB frame, made once for the frame and its windows: a slice
        of it describes as the same slice of the frame would."""
        ...


class DctDescriptor:
    """The weight-free default (embedders.copy)."""

    linear = True
    params = DEFAULT_PARAMS

    def __init__(self):
        from vidsearch.embedders import copy

        self.version, self.dim, self.flip = copy.VERSION, copy.DIM, copy.HFLIP
        self.threshold = MATCH_THRESHOLD

    def describe(self, images: Sequence[np.ndarray]) -> np.ndarray:
        from vidsearch.embedders.copy import copy_descriptors

        return copy_descriptors(list(images))

    def null_vectors(self) -> np.ndarray:
        from vidsearch.alignment import flat_frame_vector

        return flat_frame_vector()[None, :]

    def prepare(self, image: np.ndarray) -> np.ndarray:
        from vidsearch.embedders.copy import grey_levels

        return grey_levels(image)  # once a frame, not once for each of its twenty-odd windows

    def __reduce__(self):
        return "DCT"  # the one instance, whatever process unpickles a clip's vectors


DCT = DctDescriptor()


class DescriptorUnavailable(RuntimeError):
    """A learned descriptor's weights cannot be found or read; the message says how to provide them."""


class LearnedDescriptor:
    """A network that maps a frame to a copy vector: a TorchScript file taking (n, 3, size, size)
    ImageNet-normalised pixels (SSCD's form), or a transformers vision model (its pooled output,
    else the mean of its last hidden state), with its own image processor's size and statistics."""

    linear = False
    flip = None

    def __init__(self, model: str, dim: int, *, revision: str | None = None, device: str = "cpu",
                 image_size: int = 288, batch_size: int = 32, threshold: float = 0.6,
                 params: AlignParams | None = None):
        import torch

        from vidsearch.embedders.semantic import ModelUnavailable, resolve_model

        self.model, self.device, self.batch_size = model, device, batch_size
        self.settings_json: str | None = None  # set by load_descriptor, which it pickles as
        self.threshold = threshold
        self.params = params or AlignParams()
        self.size, mean, std = image_size, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
        path = Path(model).expanduser()
        try:
            if path.is_file():
                self._net = torch.jit.load(str(path), map_location=device).eval()
                self._pooled = False
            else:
                from transformers import AutoImageProcessor, AutoModel

                local = resolve_model(model, revision, kind="copy descriptor")
                self._net = AutoModel.from_pretrained(local).to(device).eval()
                self._pooled = True
                processor = AutoImageProcessor.from_pretrained(local)
                size = getattr(processor, "size", None) or {}
                self.size = int(size.get("height") or size.get("shortest_edge") or image_size)
                mean = tuple(getattr(processor, "image_mean", None) or mean)
                std = tuple(getattr(processor, "image_std", None) or std)
        except ModelUnavailable as e:
            raise DescriptorUnavailable(str(e)) from None
        except Exception as e:  # a damaged or foreign file: say which, keep the rest of vidsearch running
            raise DescriptorUnavailable(f"copy descriptor '{model}' cannot be loaded: {e}") from None
        self.version = _learned_version(model, revision)
        self._mean = np.array(mean, dtype=np.float32)[:, None, None]
        self._std = np.array(std, dtype=np.float32)[:, None, None]
        found = self.describe([np.zeros((self.size, self.size, 3), np.uint8)]).shape[1]
        if found != dim:
            raise DescriptorUnavailable(
                f"copy descriptor '{model}' gives {found}-d vectors, not descriptor.dim={dim}: set descriptor.dim to {found}"
            )
        self.dim = dim

    def describe(self, images: Sequence[np.ndarray]) -> np.ndarray:
        import torch

        out = []
        for lo in range(0, len(images), self.batch_size):
            pixels = np.stack([self._pixels(im) for im in images[lo : lo + self.batch_size]])
            with torch.inference_mode():
                x = torch.from_numpy(pixels).to(self.device)
                y = self._net(pixel_values=x) if self._pooled else self._net(x)
                if self._pooled:
                    pooled = getattr(y, "pooler_output", None)
                    y = pooled if pooled is not None else y.last_hidden_state.mean(dim=1)
                out.append(y.reshape(len(pixels), -1).float().cpu().numpy())
        if not out:
            return np.zeros((0, getattr(self, "dim", 0)), np.float32)
        vectors = np.concatenate(out)
        return (vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-6)).astype(np.float32)

    def _pixels(self, image: np.ndarray) -> np.ndarray:
        # Squashed to a square, as the semantic model's frames are: every frame of a batch one shape.
        im = Image.fromarray(np.ascontiguousarray(image)).convert("RGB").resize((self.size, self.size), Image.Resampling.BILINEAR)
        return (np.asarray(im, dtype=np.float32).transpose(2, 0, 1) / 255.0 - self._mean) / self._std

    def null_vectors(self) -> np.ndarray:
        return self._null

    def prepare(self, image: np.ndarray) -> np.ndarray:
        return image

    def __reduce__(self):
        # A clip's vectors travel between the job's tasks with their descriptor: by its settings,
        # loaded again (once per process) where they land, not as a pickled network.
        if self.settings_json is None:
            raise TypeError("a learned descriptor made outside load_descriptor cannot be pickled")
        return _load, (self.settings_json,)

    @functools.cached_property
    def _null(self) -> np.ndarray:
        return self.describe([np.zeros((self.size, self.size, 3), np.uint8), np.full((self.size, self.size, 3), 128, np.uint8)])


def descriptor_version(settings: DescriptorSettings) -> str:
    """The version a video described under these settings is recorded with; no weights are read."""
    return DCT.version if settings.model == "dct" else _learned_version(settings.model, settings.revision)


def _learned_version(model: str, revision: str | None) -> str:
    path = Path(model).expanduser()
    if path.is_file():  # a TorchScript file: another file under the same name is another model
        return f"learned:{path.name}:{path.stat().st_size}"
    return f"learned:{model}@{revision or 'main'}"


def alignment_for(settings: DescriptorSettings) -> tuple[AlignParams, float]:
    """(alignment params, match threshold) of the descriptor these settings name; no weights read."""
    if settings.model == "dct":
        return DCT.params, DCT.threshold
    return AlignParams(strong=settings.strong, weak=settings.weak, vote_floor=settings.vote_floor), settings.threshold


def load_descriptor(settings: DescriptorSettings) -> CopyDescriptor:
    """The descriptor of these settings, loaded once per process."""
    if settings.model == "dct":
        return DCT
    return _load(settings.model_dump_json())


@functools.lru_cache(maxsize=2)
def _load(settings_json: str) -> CopyDescriptor:
    from vidsearch.config import DescriptorSettings

    s = DescriptorSettings.model_validate_json(settings_json)
    device = s.device
    if device == "auto":
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    params, threshold = alignment_for(s)
    descriptor = LearnedDescriptor(s.model, s.dim, revision=s.revision, device=device, image_size=s.image_size,
                                   batch_size=s.batch_size, threshold=threshold, params=params)
    descriptor.settings_json = settings_json
    return descriptor
