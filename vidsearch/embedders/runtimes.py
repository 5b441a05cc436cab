"""Where the semantic towers run: torch, or ONNX Runtime from an export cached beside the model.

Both runtimes run the same two modules (`ImageTower`, `TextTower`): the image tower takes uint8
frames and does the normalisation itself, on the whole batch, and both return unit vectors. The
ONNX files are exported from the torch modules once, with int8 weights when asked (dynamic
quantisation of the matrix products), and cached under the model directory, keyed by the model's
files and the precision, so a changed checkpoint exports afresh.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

TORCH_PRECISIONS = ("fp32", "bf16", "fp16")
ONNX_PRECISIONS = ("fp32", "int8")
# Bumped when what is exported changes (the tower modules, the export options).
EXPORT_FORMAT = 2
CACHE_DIR = "vidsearch-onnx"


class ExportFailed(RuntimeError):
    """A tower could not be exported or opened by ONNX Runtime; the torch runtime is used instead."""


def device_for(device: str, runtime: str, gpu: bool) -> str:
    """The torch device a semantic model runs on: `auto` is a GPU where there is one, except for
    the ONNX runtime, whose build here is the CPU one."""
    if device != "auto":
        return device
    return "cuda" if gpu and runtime != "onnx" else "cpu"


def choose(runtime: str, precision: str, device_type: str) -> tuple[str, str]:
    """The (runtime, precision) that `auto` stands for on this device, checked.

    On CPU ONNX Runtime with int8 weights is the fastest path that keeps fidelity (cosine 0.9997 to
    torch fp32, docs/benchmarks.md); on a GPU torch in bf16."""
    if runtime == "auto":
        runtime = "onnx" if device_type == "cpu" else "torch"
    if precision == "auto":
        precision = "int8" if runtime == "onnx" else ("bf16" if device_type == "cuda" else "fp32")
    problem = unsupported(runtime, precision, device_type)
    if problem:
        raise ValueError(problem)
    return runtime, precision


def unsupported(runtime: str, precision: str, device_type: str | None = None) -> str | None:
    """Why this combination cannot run, or None."""
    if runtime == "onnx":
        if device_type not in (None, "cpu"):
            return "semantic.runtime onnx runs on the CPU (ONNX Runtime's CPU build); set semantic.device to cpu, or semantic.runtime to torch"
        if precision not in ONNX_PRECISIONS + ("auto",):
            return f"semantic.runtime onnx runs fp32 or int8, not {precision}; use semantic.runtime torch for {precision}"
    if runtime == "torch" and precision not in TORCH_PRECISIONS + ("auto",):
        return f"semantic.runtime torch runs fp32, bf16 or fp16, not {precision}; use semantic.runtime onnx for int8"
    return None


def torch_dtype(precision: str):
    import torch

    return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def image_tower(model, scale: float, mean, std, dtype):
    import torch

    class ImageTower(torch.nn.Module):
        """(N, S, S, 3) uint8 frames -> (N, dim) float32 unit vectors."""

        def __init__(self):
            super().__init__()
            self.model = model
            self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
            self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))

        def forward(self, pixels):
            x = (pixels.permute(0, 3, 1, 2).float() * scale - self.mean) / self.std
            out = self.model.get_image_features(pixel_values=x.to(dtype))
            return _unit(getattr(out, "pooler_output", out))

    return ImageTower().eval()


def text_tower(model):
    import torch

    class TextTower(torch.nn.Module):
        """Token ids (and the mask, for models that read one) -> (N, dim) float32 unit vectors."""

        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask=None):
            kwargs = {} if attention_mask is None else {"attention_mask": attention_mask}
            out = self.model.get_text_features(input_ids=input_ids, **kwargs)
            return _unit(getattr(out, "pooler_output", out))

    return TextTower().eval()


def _unit(features):
    features = features.float()
    return features / features.norm(dim=1, keepdim=True).clamp_min(1e-12)


class OnnxTower:
    """One exported tower in an ONNX Runtime session."""

    def __init__(self, path: Path, threads: int, spin: bool = True):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if not spin:  # idle threads sleep at once instead of spinning for the next call
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.path = path

    def __call__(self, **arrays: np.ndarray) -> np.ndarray:
        feed = {name: arrays[name] for name in self.inputs}
        return self.session.run(None, feed)[0]


def cache_key(model_dir: Path, tower: str, precision: str) -> str:
    """Names the export of one tower at one precision of the checkpoint in `model_dir`: its config,
    its weight files (name, size, time) and the exporting libraries."""
    import onnxruntime
    import torch

    files = sorted(p for p in model_dir.iterdir() if p.is_file() and p.suffix in (".json", ".safetensors", ".bin"))
    parts = {
        "format": EXPORT_FORMAT, "tower": tower, "precision": precision,
        "torch": torch.__version__.split("+")[0], "onnxruntime": onnxruntime.__version__,
        "files": [(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in files],
        "config": hashlib.sha256((model_dir / "config.json").read_bytes()).hexdigest(),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def cache_dirs(model_dir: Path) -> list[Path]:
    """Where exports are kept, in order: beside the model, else the user's cache (a read-only
    model directory, such as a mounted volume)."""
    home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    digest = hashlib.sha256(str(model_dir.resolve()).encode()).hexdigest()[:12]
    return [model_dir / CACHE_DIR, home / "vidsearch" / "onnx" / digest]


def cached_export(model_dir: Path, tower: str, precision: str, export) -> Path:
    """The ONNX file of `tower` at `precision`: the cached one, or `export(path_fp32)` run now and
    quantised if asked. Older exports of the same tower and precision are removed."""
    key = cache_key(model_dir, tower, precision)
    name = f"{tower}-{precision}-{key}.onnx"
    for folder in cache_dirs(model_dir):
        if (folder / name).is_file():
            return folder / name
    errors = []
    log.warning("exporting the %s tower of %s to ONNX (%s), once: it is cached", tower, model_dir.name, precision)
    for folder in cache_dirs(model_dir):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=folder, prefix=".export-") as work:
                fp32 = Path(work) / "fp32.onnx"
                export(fp32)
                made = fp32
                if precision == "int8":
                    made = Path(work) / "int8.onnx"
                    quantise(fp32, made)
                _single_file(made, folder / f".{name}.partial")
                os.replace(folder / f".{name}.partial", folder / name)  # whole or not at all
            for old in folder.glob(f"{tower}-{precision}-*.onnx"):
                if old.name != name:
                    old.unlink(missing_ok=True)
            return folder / name
        except OSError as e:
            errors.append(f"{folder}: {e.strerror or e}")
    raise ExportFailed("cannot write the export: " + "; ".join(errors))


# Weights of 7 bits (reduce_range): x86 CPUs without VNNI multiply uint8 by int8 in 16-bit sums
# that saturate at 8 bits (cosine to fp32 0.94 on the test model, 0.9997 at 7 bits), and one export
# must be faithful on any CPU that reads the cache. Scales per output channel win back what the lost
# bit costs (bench/int8_options.py).
INT8_OPTIONS = {"per_channel": True, "reduce_range": True}


def quantise(src: Path, dst: Path, **options) -> None:
    """int8 weights for the matrix products of `src`: with `INT8_OPTIONS`, or with `options` instead."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Only the matrix products: they are nearly all the work, and int8 activations elsewhere (the
    # patch convolution) cost fidelity for no speed.
    with _quiet():
        quantize_dynamic(
            str(src), str(dst), weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul", "Gemm"],
            **(options or INT8_OPTIONS),
        )


def _single_file(src: Path, dst: Path) -> None:
    """Save the model at `src` as one file (the exporter may keep weights beside it)."""
    import onnx

    model = onnx.load(str(src))
    if model.ByteSize() < 2**31 - 2**20:
        onnx.save(model, str(dst))
    else:  # protobuf's 2 GB limit: weights go beside the graph
        onnx.save(model, str(dst), save_as_external_data=True, location=dst.name + ".data")


def export_tower(module, example: dict, path: Path) -> None:
    """Export `module` called on `example` (tensors by argument name) with a free batch size."""
    import torch

    batch = torch.export.Dim("batch", min=1, max=65536)
    dynamic = {name: {0: batch} for name in example}
    try:
        with _quiet():
            torch.onnx.export(
                module, (), str(path), kwargs=example, dynamo=True, dynamic_shapes=dynamic,
                input_names=list(example), output_names=["vectors"], verbose=False, optimize=True,
            )
    except Exception as e:  # the exporter raises many kinds; all mean "this model does not export"
        raise ExportFailed(f"{type(e).__name__}: {_first_line(e)}") from e


@contextlib.contextmanager
def _quiet():
    """The exporter prints its steps and the quantiser logs advice on the root logger: a job's
    output shows the one line that says an export is being made instead."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        root.setLevel(level)


def _first_line(e: Exception) -> str:
    text = str(e).strip()
    return text.splitlines()[0][:300] if text else ""

