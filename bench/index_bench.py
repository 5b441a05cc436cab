"""Indexing throughput and memory against the decode floor, side by side in one run.

    python bench/index_bench.py VIDEO_DIR [--short CLIP] [--long VIDEO] [--decoder decord pyav]

1. Decode floor: `ffmpeg -i f -f null -` per file, one after another (all cores, as ffmpeg likes).
2. `vidsearch index VIDEO_DIR` into a fresh data dir, start-up included, once per decoder.
3. Peak RSS of the whole process tree (driver, Ray, workers) and of the largest single process,
   indexing a long video and a short clip, so memory growth with video length shows as a ratio.
4. With --semantic-base: the same index run with a randomly initialised SigLIP-B/16-224 (the
   default model's architecture; weights do not change its cost) embedding every frame.
5. With --speech: the first decoder's run again with subtitles and speech read (the bundled tiny.en
   model); the runs above read subtitles only, so the decode-floor ratio is the frames' alone.
6. --scenes on|off|both: shot detection in the index runs (both: each decoder with scenes off,
   then on, side by side in one run).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

VIDSEARCH = str(Path(sys.executable).with_name("vidsearch"))


def decode_floor(files: list[Path]) -> float:
    started = time.perf_counter()
    for f in files:
        subprocess.run(["ffmpeg", "-v", "error", "-i", str(f), "-f", "null", "-"], check=True)
    return time.perf_counter() - started


class PeakRss:
    """Samples the RSS of a process and all its descendants (Ray starts several)."""

    def __init__(self, pid: int):
        self.root = psutil.Process(pid)
        self.tree_peak = 0
        self.process_peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                procs = [self.root, *self.root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            sizes = []
            for p in procs:
                try:
                    sizes.append(p.memory_info().rss)
                except psutil.NoSuchProcess:
                    pass
            self.tree_peak = max(self.tree_peak, sum(sizes))
            self.process_peak = max(self.process_peak, max(sizes, default=0))
            time.sleep(0.1)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def random_siglip_base(path: Path) -> Path:
    """SigLIP-B/16-224's architecture with random weights, saved like a real checkpoint."""
    import torch
    from transformers import SiglipConfig, SiglipImageProcessor, SiglipModel

    torch.manual_seed(0)
    SiglipModel(SiglipConfig()).save_pretrained(path)
    SiglipImageProcessor(size={"height": 224, "width": 224}).save_pretrained(path)
    return path


def run_index(target: Path, decoder: str, model: Path | None = None, speech: bool = False,
              scenes: bool = False, runtime: str = "auto:auto") -> dict:
    with tempfile.TemporaryDirectory(prefix="vidsearch-bench-") as data_dir:
        env = {**os.environ, "VIDSEARCH_SAMPLING__DECODER": decoder, "RAY_ADDRESS": "",
               "VIDSEARCH_SPEECH__ENABLED": str(speech).lower(), "VIDSEARCH_SCENES__ENABLED": str(scenes).lower()}
        if model is not None:
            env["VIDSEARCH_SEMANTIC__MODEL"] = str(model)
            env["VIDSEARCH_SEMANTIC__RUNTIME"], env["VIDSEARCH_SEMANTIC__PRECISION"] = runtime.split(":")
        started = time.perf_counter()
        proc = subprocess.Popen(
            [VIDSEARCH, "index", str(target), "--data-dir", data_dir, "--json"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
        )
        rss = PeakRss(proc.pid)
        out, _ = proc.communicate()
        wall = time.perf_counter() - started
        rss.stop()
        scene_count = _count_scenes(Path(data_dir)) if scenes else 0
    summary = json.loads(out)
    return {
        "wall_s": wall,
        "frames": summary["frames"],
        "indexed": summary["indexed"],
        "transcribed": summary["texts"]["speech"],
        "tree_rss_mb": rss.tree_peak / 2**20,
        "process_rss_mb": rss.process_peak / 2**20,
        "scenes": scene_count,
        "stages": summary.get("stages", {}),
    }


def export_first(model: Path, runtime: str) -> float:
    """Make the image tower's export before a timed run (a first run makes it once, then reads it)."""
    from vidsearch.embedders.semantic import SemanticEmbedder

    started = time.perf_counter()
    SemanticEmbedder(model, "cpu", *runtime.split(":"), prepare=("image",))
    return time.perf_counter() - started


def _count_scenes(data_dir: Path) -> int:
    from vidsearch.config import load_settings
    from vidsearch.store.open import open_store

    store = open_store(load_settings(data_dir=data_dir))
    try:
        return sum(len(store.get_video(r.video_id).scenes or []) for r in store.list_videos())
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("videos", type=Path)
    parser.add_argument("--decoder", nargs="+", default=["decord", "pyav"])
    parser.add_argument("--short", type=Path, help="a ~30 s clip for the memory ratio")
    parser.add_argument("--long", type=Path, help="a ~10 min video for the memory ratio")
    parser.add_argument("--semantic-base", action="store_true", help="also embed with SigLIP-B on this machine")
    parser.add_argument("--semantic-runtime", nargs="+", default=["torch:fp32", "onnx:int8"],
                        help="runtime:precision of each SigLIP-B run, side by side")
    parser.add_argument("--speech", action="store_true", help="also index with speech transcribed (tiny.en)")
    parser.add_argument("--scenes", choices=["off", "on", "both"], default="off", help="shot detection in the runs")
    args = parser.parse_args()
    files = sorted(p for p in args.videos.iterdir() if p.is_file() and not p.name.startswith("."))
    seconds = sum(
        float(subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(f)],
                             capture_output=True, text=True).stdout or 0)
        for f in files
    )
    print(f"{len(files)} files, {seconds / 60:.1f} min of video")
    floor = decode_floor(files)
    print(f"decode floor (ffmpeg -f null, per file): {floor:.1f} s")
    plain = {}
    modes = {"off": [False], "on": [True], "both": [False, True]}[args.scenes]
    for decoder in args.decoder:
        for scenes in modes:
            r = run_index(args.videos, decoder, scenes=scenes)
            plain.setdefault(decoder, r)
            versus = f", {r['wall_s'] / plain[decoder]['wall_s']:.2f}x scenes off" if scenes and len(modes) > 1 else ""
            print(
                f"vidsearch index [{decoder}, scenes {'on' if scenes else 'off'}]: {r['wall_s']:.1f} s = "
                f"{r['wall_s'] / floor:.2f}x floor{versus}, {r['frames'] / r['wall_s']:.1f} frames/s, "
                f"{seconds / r['wall_s']:.0f}x real time, peak RSS tree {r['tree_rss_mb']:.0f} MiB, "
                f"largest process {r['process_rss_mb']:.0f} MiB" + (f", {r['scenes']} scenes" if scenes else "")
            )
    if args.speech:
        decoder = args.decoder[0]
        r = run_index(args.videos, decoder, speech=True)
        print(
            f"vidsearch index [{decoder}] + speech: {r['wall_s']:.1f} s = {r['wall_s'] / floor:.2f}x floor, "
            f"{r['wall_s'] / plain[decoder]['wall_s']:.2f}x the run without speech; {r['transcribed']} videos "
            f"transcribed; peak RSS tree {r['tree_rss_mb']:.0f} MiB"
        )
    if args.semantic_base:
        with tempfile.TemporaryDirectory(prefix="siglip-b-") as model_dir:
            model = random_siglip_base(Path(model_dir))
            for runtime in args.semantic_runtime:
                export_s = export_first(model, runtime)
                for decoder in args.decoder:
                    r = run_index(args.videos, decoder, model, runtime=runtime)
                    stages = ", ".join(f"{k} {v['frames_per_s']}" for k, v in r["stages"].items())
                    print(
                        f"vidsearch index [{decoder}] + SigLIP-B {runtime}: {r['wall_s']:.1f} s = "
                        f"{r['wall_s'] / floor:.2f}x floor, {r['frames'] / r['wall_s']:.1f} frames/s embedded, "
                        f"peak RSS tree {r['tree_rss_mb']:.0f} MiB; frames per busy second: {stages} "
                        f"(ready before the run in {export_s:.0f} s)"
                    )
    if args.short and args.long:
        for decoder in args.decoder:
            short, long = run_index(args.short, decoder), run_index(args.long, decoder)
            print(
                f"peak RSS [{decoder}] long/short: tree {long['tree_rss_mb']:.0f}/{short['tree_rss_mb']:.0f} MiB "
                f"= {long['tree_rss_mb'] / short['tree_rss_mb']:.2f}x; largest process "
                f"{long['process_rss_mb']:.0f}/{short['process_rss_mb']:.0f} MiB "
                f"= {long['process_rss_mb'] / short['process_rss_mb']:.2f}x"
            )


if __name__ == "__main__":
    main()
