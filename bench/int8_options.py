"""The int8 quantisation options of the image tower side by side: speed and fidelity to fp32.

    python bench/int8_options.py [--frames 48] [--threads 2]

ONNX Runtime's int8 matrix products differ by CPU: without VNNI, uint8 x int8 products are summed
in 16 bits and saturate with 8-bit weights. This exports SigLIP-B/16-224 (random weights) once in
fp32, quantises it three ways (8-bit weights; 7-bit; 7-bit with a scale per output channel, the
export's choice) and reads each on the same random frames against the fp32 file.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.serve_bench import random_siglip_base  # noqa: E402

OPTIONS = {
    "8-bit weights, one scale": {"reduce_range": False},
    "7-bit weights, one scale": {"reduce_range": True},
    "7-bit weights, a scale per channel (the export's)": {},  # runtimes.INT8_OPTIONS
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    from vidsearch.embedders.runtimes import OnnxTower, quantise
    from vidsearch.embedders.semantic import SemanticEmbedder

    batch = 16
    images = np.random.default_rng(1).integers(0, 255, (args.frames, 224, 224, 3), dtype=np.uint8)
    with tempfile.TemporaryDirectory(prefix="vidsearch-int8-") as tmp:
        model = random_siglip_base(Path(tmp) / "siglip-b")
        reference = SemanticEmbedder(model, "cpu", "onnx", "fp32", cpu_threads=args.threads, prepare=("image",))
        fp32 = reference._towers["image"].path
        expected = np.concatenate([reference.embed_images(images[i:i + batch]) for i in range(0, len(images), batch)])
        for i, (name, options) in enumerate(OPTIONS.items()):
            out = Path(tmp) / f"int8-{i}.onnx"
            quantise(fp32, out, **options)
            tower = OnnxTower(out, args.threads)
            tower(pixels=images[:batch])  # warm
            started = time.perf_counter()
            vectors = np.concatenate([tower(pixels=images[i:i + batch]) for i in range(0, len(images), batch)])
            seconds = time.perf_counter() - started
            cosine = (vectors * expected).sum(axis=1)
            print(f"{name}: {len(images) / seconds:.2f} images/s, cosine to fp32 mean {cosine.mean():.5f} "
                  f"min {cosine.min():.5f}", flush=True)


if __name__ == "__main__":
    main()
