"""How clip matching grows with the library: /match's work at 1x, 10x, 100x more indexed frames, and
at one million.

    python bench/match_scale.py VIDEO_DIR [--factors 1 10 100] [--million] [--clips 5]

Indexes VIDEO_DIR (copy vectors and audio, through the real index job), cuts 30 s clips of it
(re-encoded, 360p) and decodes them once. Then, for each library size, adds synthetic distractor
videos to the in-memory copy index and times what /match does after decoding: candidates over the
whole index, alignment against the candidates, audio verification. Distractors are five-minute
"videos" of shots: each shot starts at a real frame's descriptor with its signs scrambled plus
noise and drifts like a camera does, so they have the statistics of real frames but none is a
copy. Prints per size: frames, index build time and memory, latency p50/max, and whether every
clip still finds its source (or a copy of it in the corpus) at the right offset.
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from match_eval import SAME_CONTENT, same_content  # noqa: E402  (bench/ is the script's folder)

DISTRACTOR_FRAMES = 300  # five minutes at 1 fps


def distractor(rng: np.random.Generator, real: np.ndarray, frames: int = DISTRACTOR_FRAMES) -> np.ndarray:
    out, t = np.empty((frames, real.shape[1]), dtype=np.float32), 0
    while t < frames:
        shot = min(int(rng.integers(3, 20)), frames - t)
        v = real[rng.integers(len(real))] * rng.choice([-1.0, 1.0], size=real.shape[1]) + 0.3 * rng.normal(size=real.shape[1])
        for i in range(shot):
            v = v + 0.15 * rng.normal(size=real.shape[1])
            out[t + i] = v / np.linalg.norm(v)
        t += shot
    return out


def right_source(match: dict, path: str, start: float) -> bool:
    """The clip's own source, or a copy of it in the corpus, at the clip's offset within 1 s."""
    name, source = Path(match.path).name, Path(path).name
    shift = 0.0 if name == source else SAME_CONTENT.get(source, {}).get(name)
    return shift is not None and abs(match.source_start_s - match.query_start_s - (start + shift)) <= 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("videos", type=Path)
    parser.add_argument("--factors", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument("--million", action="store_true", help="also a library of one million frames")
    parser.add_argument("--clips", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--faiss-too", action="store_true",
                        help="at each size also time candidates by FAISS's flat search, the baseline of the block scan")
    args = parser.parse_args()

    import ray

    from batch_jobs.index_videos import run_index
    from vidsearch.clips import clip_fingerprint, clip_vectors
    from vidsearch.config import Settings
    from vidsearch.copy_index import CopyIndex
    from vidsearch.matching import match_clip, verify_audio
    from vidsearch.store import open_store

    rng, np_rng = random.Random(args.seed), np.random.default_rng(args.seed)
    with tempfile.TemporaryDirectory(prefix="vidsearch-match-scale-") as tmp:
        tmp = Path(tmp)
        settings = Settings(data_dir=tmp / "data", semantic={"enabled": False})
        ray.init(include_dashboard=False, log_to_driver=False, namespace="vidsearch")
        try:
            run_index([str(args.videos)], settings, show_progress=False)
        finally:
            ray.shutdown()
        store = open_store(settings)
        real_index = CopyIndex()
        real_index.sync(store)
        library = {r.video_id: r for r in store.list_videos(status="complete")}
        SAME_CONTENT.update(same_content(sorted(p for p in args.videos.iterdir() if p.is_file()), settings.sampling.fps))
        long_enough = [r for r in library.values() if r.metadata.duration_s >= 40]
        clips = []
        for i, record in enumerate(rng.sample(long_enough, min(args.clips, len(long_enough)))):
            start = round(rng.uniform(0, record.metadata.duration_s - 31), 1)
            path = tmp / f"clip{i}.mp4"
            subprocess.run(
                ["ffmpeg", "-v", "error", "-y", "-ss", str(start), "-i", record.path, "-t", "30",
                 "-vf", "scale=-2:360", "-c:v", "libx264", "-crf", "28", "-preset", "veryfast", "-c:a", "aac", str(path)],
                check=True,
            )
            clips.append((record.video_id, start, clip_fingerprint(str(path)), clip_vectors(str(path), fps=settings.sampling.fps)))
        real = np.concatenate([real_index.frames(v)[1] for v in library])
        base = len(real)
        sizes = [base * f for f in args.factors] + ([1_000_000] if args.million else [])
        print(f"library: {len(library)} real videos, {base} frames; clips: {len(clips)} x 30 s")
        print("| indexed frames | x real | build s | index MB | match p50 ms | match max ms | sources found |")
        print("|---|---|---|---|---|---|---|")
        baseline = None
        for size in sizes:
            index = CopyIndex()
            for vid in library:
                index.add(vid, *real_index.frames(vid))
            n = 0
            while len(index) < size:
                frames = min(DISTRACTOR_FRAMES, size - len(index))
                index.add(f"distractor-{n}", np.arange(frames, dtype=np.float32), distractor(np_rng, real, frames))
                n += 1
            started = time.perf_counter()
            index.candidates(real[:1])  # builds the FAISS index
            build = time.perf_counter() - started
            searches = [("", CopyIndex.SCAN_FROM)] + ([(" (FAISS search)", 2**62)] if args.faiss_too else [])
            for label, scan_from in searches:
                index.SCAN_FROM = scan_from  # this index only
                times, found = [], 0
                for _ in range(3):
                    for vid, start, audio, clip in clips:
                        started = time.perf_counter()
                        matches = verify_audio(store, audio, match_clip(store, index, clip))
                        times.append(time.perf_counter() - started)
                        found += bool(matches) and right_source(matches[0], library[vid].path, start)
                p50 = statistics.median(times)
                baseline = baseline or p50
                print(f"| {len(index):,}{label} | {len(index) / base:.0f} | {build:.2f} | {len(index) * 63 * 4 / 2**20:.0f} | "
                      f"{1000 * p50:.0f} ({p50 / baseline:.2f}x) | {1000 * max(times):.0f} | {found}/{len(times)} |", flush=True)
        store.close()


if __name__ == "__main__":
    main()
