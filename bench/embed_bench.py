"""Semantic embedding per runtime and precision, side by side in one run, with fidelity to torch fp32.

    python bench/embed_bench.py [VIDEO_DIR] [--model DIR] [--frames 160] [--threads 2] [--json]

Real frames are decoded from VIDEO_DIR (default: the shared corpus) at 1 fps, spread evenly over its
videos, and resized as the index job does. Each runtime (torch fp32, torch bf16, ONNX Runtime fp32,
ONNX Runtime int8, or those given with --runtime) then:
- is made ready from the same checkpoint: `prepare_s` includes its ONNX export, in a fresh cache;
- embeds the frames in batches of --batch: images/s;
- embeds each text query alone, as a search does: p50/p95 ms.
Fidelity against torch fp32: mean and least cosine of the same frame's (or query's) vectors, and the
overlap of the top-10 frames for image->frame search (a quarter of the frames, held out of the
gallery, as queries) and for text->frame search.

Without --model the checkpoint is SigLIP-B/16-224 with random weights: its cost is the real one, its
neighbourhoods are not, so fidelity read on it says how closely a runtime follows torch on this
architecture, not on trained weights. Give --model a real checkpoint to measure on real weights.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.serve_bench import WORDS, random_siglip_base  # noqa: E402

RUNTIMES = ["torch:fp32", "torch:bf16", "onnx:fp32", "onnx:int8"]
QUERIES = [" ".join(pair) for pair in zip(WORDS, WORDS[3:] + WORDS[:3])] + WORDS[:10]


def real_frames(videos: Path, count: int, size: int) -> np.ndarray:
    """`count` frames at 1 fps spread over the videos, resized to the model's input."""
    from vidsearch.embedders.semantic import prepare_image
    from vidsearch.media.files import discover
    from vidsearch.media.frames import iter_frames
    from vidsearch.media.probe import probe

    files = [c.path for c in discover([str(videos)])]
    per_video = max(1, count // max(1, len(files)) + 1)
    frames = []
    for path in files:
        meta = probe(path)
        every = list(iter_frames(path, meta, fps=1.0, decoder="pyav"))
        step = max(1, len(every) // per_video)
        frames += [prepare_image(f.image, size) for f in every[::step][:per_video]]
    rng = np.random.default_rng(0)
    picked = rng.choice(len(frames), size=min(count, len(frames)), replace=False)
    return np.stack([frames[i] for i in sorted(picked)])


def measure(model: Path, runtime: str, precision: str, frames: np.ndarray, batch: int, threads: int) -> dict:
    from vidsearch.embedders.semantic import SemanticEmbedder

    started = time.perf_counter()
    embedder = SemanticEmbedder(model, "cpu", runtime, precision, cpu_threads=threads)
    prepare_s = time.perf_counter() - started
    embedder.embed_images(frames[:batch])  # warm
    started = time.perf_counter()
    images = np.concatenate([embedder.embed_images(frames[i:i + batch]) for i in range(0, len(frames), batch)])
    images_s = time.perf_counter() - started
    embedder.embed_texts(QUERIES[:1])
    texts, latencies = [], []
    for query in QUERIES:
        started = time.perf_counter()
        texts.append(embedder.embed_texts([query])[0])
        latencies.append((time.perf_counter() - started) * 1000)
    latencies.sort()
    return {
        "runtime": f"{runtime} {precision}", "used": embedder.runtimes_used, "prepare_s": round(prepare_s, 1),
        "images_per_s": round(len(frames) / images_s, 2),
        "text_p50_ms": round(statistics.median(latencies), 1),
        "text_p95_ms": round(latencies[int(0.95 * (len(latencies) - 1))], 1),
        "_images": images, "_texts": np.stack(texts),
    }


def top(queries: np.ndarray, gallery: np.ndarray, k: int = 10) -> np.ndarray:
    return np.argsort(-(queries @ gallery.T), axis=1)[:, :k]


def overlap(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean([len(set(x) & set(y)) / len(x) for x, y in zip(a, b)]))


def fidelity(result: dict, reference: dict) -> dict:
    images, texts = result["_images"], result["_texts"]
    ref_images, ref_texts = reference["_images"], reference["_texts"]
    image_cos = (images * ref_images).sum(1)
    text_cos = (texts * ref_texts).sum(1)
    held = len(images) // 4  # the first quarter asks, the rest is the gallery
    return {
        "image_cos_mean": round(float(image_cos.mean()), 5), "image_cos_min": round(float(image_cos.min()), 5),
        "text_cos_mean": round(float(text_cos.mean()), 5), "text_cos_min": round(float(text_cos.min()), 5),
        "image_top10_overlap": round(overlap(top(images[:held], images[held:]), top(ref_images[:held], ref_images[held:])), 3),
        "text_top10_overlap": round(overlap(top(texts, images[held:]), top(ref_texts, ref_images[held:])), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("videos", nargs="?", type=Path, default=Path(__file__).resolve().parents[2] / "shared/media/videos")
    parser.add_argument("--model", type=Path, help="a checkpoint directory; default: random SigLIP-B/16-224")
    parser.add_argument("--runtime", action="append", help=f"runtime:precision, repeatable; default {' '.join(RUNTIMES)}")
    parser.add_argument("--frames", type=int, default=160)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="embed-bench-"))
    try:
        # A copy of the checkpoint, so every ONNX export is made afresh and timed.
        model = work / "model"
        if args.model:
            shutil.copytree(args.model, model, ignore=shutil.ignore_patterns("vidsearch-onnx"))
        else:
            random_siglip_base(model)
        from vidsearch.embedders.semantic import model_image_size

        frames = real_frames(args.videos, args.frames, model_image_size(model))
        wanted = args.runtime or RUNTIMES
        if "torch:fp32" not in wanted:
            wanted = ["torch:fp32", *wanted]  # the reference
        results = [measure(model, *r.split(":"), frames, args.batch, args.threads) for r in wanted]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    reference = next(r for r in results if r["runtime"] == "torch fp32")
    rows = []
    for r in results:
        row = {k: v for k, v in r.items() if not k.startswith("_")}
        row["vs_torch_fp32"] = round(r["images_per_s"] / reference["images_per_s"], 2)
        row.update(fidelity(r, reference))
        rows.append(row)
    summary = {"weights": str(args.model) if args.model else "random SigLIP-B/16-224", "frames": len(frames),
               "queries": len(QUERIES), "threads": args.threads, "batch": args.batch, "results": rows}
    if args.json:
        print(json.dumps(summary))
        return
    print(f"{summary['weights']}, {len(frames)} real frames, {len(QUERIES)} text queries, {args.threads} threads")
    print("| runtime | images/s | vs torch fp32 | text p50 ms | image cos mean/min | text cos mean/min | top-10 image / text | prepare s |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['runtime']} | {r['images_per_s']} | {r['vs_torch_fp32']}x | {r['text_p50_ms']} | "
              f"{r['image_cos_mean']} / {r['image_cos_min']} | {r['text_cos_mean']} / {r['text_cos_min']} | "
              f"{r['image_top10_overlap']} / {r['text_top10_overlap']} | {r['prepare_s']} |")


if __name__ == "__main__":
    main()
