"""Clip decoding time (what /match spends before matching: probe, decode at the index's rate,
copy vectors of the frame and its windows), this checkout against another revision, side by side.

    python bench/clip_decode.py CLIP_DIR [--baseline REV] [--clips 40] [--rounds 3]

The baseline runs from a git worktree of REV in a temporary folder; the two alternate clip by
clip, in separate processes of the same Python, so the machine's noise falls on both alike.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TIMER = """
import sys, time
sys.path.insert(0, sys.argv[1])
import vidsearch
from vidsearch.clips import clip_vectors
assert vidsearch.__file__.startswith(sys.argv[1]), vidsearch.__file__
for path in sys.stdin.read().split():
    started = time.perf_counter()
    clip_vectors(path)
    print(time.perf_counter() - started, flush=True)
"""


def timed(root: Path, clips: list[str]) -> list[float]:
    out = subprocess.run([sys.executable, "-c", TIMER, str(root)], input="\n".join(clips), capture_output=True,
                         text=True, check=True, cwd=root)
    return [float(x) for x in out.stdout.split()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("clips", type=Path)
    parser.add_argument("--baseline", default="HEAD~1")
    parser.add_argument("--clips", dest="count", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    paths = sorted(str(p) for p in args.clips.iterdir() if p.suffix in (".mp4", ".webm", ".mov", ".mkv"))
    paths = paths[:: max(1, len(paths) // args.count)][: args.count]
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "baseline"
        subprocess.run(["git", "worktree", "add", "-q", "--detach", str(base), args.baseline], cwd=ROOT, check=True)
        try:
            times: dict[str, list[float]] = {"baseline": [], "this": []}
            for _ in range(args.rounds):
                for lo in range(0, len(paths), 5):  # alternate, five clips at a time
                    times["baseline"] += timed(base, paths[lo : lo + 5])
                    times["this"] += timed(ROOT, paths[lo : lo + 5])
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base)], cwd=ROOT, check=True)
    b, t = statistics.median(times["baseline"]), statistics.median(times["this"])
    print(f"{len(paths)} clips x {args.rounds} rounds; baseline {args.baseline}: p50 {1000 * b:.0f} ms; "
          f"this checkout: p50 {1000 * t:.0f} ms ({t / b:.2f}x); sums {sum(times['this']) / sum(times['baseline']):.2f}x")


if __name__ == "__main__":
    main()
