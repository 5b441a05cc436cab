"""Duplicate groups against a corpus of known copies (bench/dup_corpus.py), and the cost of
looking for a new video's copies as the library grows.

    python bench/dup_eval.py CORPUS [--data-dir DIR] [--grow 10 100] [--json OUT]

1. `vidsearch index CORPUS/videos` into a fresh data dir (or reuse --data-dir), which looks for
   each new video's copies as it completes.
2. Pair precision and recall: every pair of videos the library groups as one footage against
   truth.json (pairs whose shared footage covers 0.8 of the shorter one).
3. Cost per new video: `find_copies` timed for every corpus video, on the library as it is, then
   with synthetic distractor videos added (random-walk copy vectors, 60 s each) until the library
   holds --grow times its frames.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

VIDSEARCH = str(Path(sys.executable).with_name("vidsearch"))
COVER = 0.8


def truth_pairs(truth: dict) -> set[frozenset]:
    def length(pieces):
        return sum(end - start for _, start, end in pieces)

    def shared(a, b):
        return sum(max(0.0, min(e1, e2) - max(s1, s2)) for n1, s1, e1 in a for n2, s2, e2 in b if n1 == n2)

    pairs = set()
    for f, g in itertools.combinations(sorted(truth), 2):
        if shared(truth[f], truth[g]) >= COVER * min(length(truth[f]), length(truth[g])) - 0.5:
            pairs.add(frozenset((f, g)))
    return pairs


def index(videos: Path, data_dir: Path) -> float:
    env = {**os.environ, "RAY_ADDRESS": ""}
    started = time.perf_counter()
    subprocess.run([VIDSEARCH, "index", str(videos), "--data-dir", str(data_dir), "--json"], env=env, check=False,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def grow(store, frames: int, rng: np.random.Generator, seconds: int = 60) -> int:
    """Synthetic complete videos of `seconds` frames each (a random walk of copy vectors, as
    footage changes slowly) until `frames` more frames are in the store."""
    from vidsearch.embedders.copy import DIM
    from vidsearch.store import ids
    from vidsearch.store.records import VideoRecord

    added = 0
    while added < frames:
        checksum = f"synthetic-{rng.integers(1 << 62)}"
        record = VideoRecord(video_id=ids.video_id(checksum), path=f"/synthetic/{checksum}.mp4", checksum=checksum,
                             size_bytes=1, status="complete", frames=seconds, sampling_fps=1.0, copies=[])
        store.put_video(record)
        walk = np.cumsum(rng.normal(size=(seconds, DIM)), axis=0) + 5 * rng.normal(size=DIM)
        walk /= np.linalg.norm(walk, axis=1, keepdims=True)
        store.upsert_frames(record.frame_payload(), np.arange(seconds), np.arange(seconds, dtype=np.float32),
                            walk.astype(np.float32))
        added += seconds
    store.optimize()
    return added


def cost_per_video(store, records, fps: float) -> dict:
    from vidsearch.duplicates import find_copies

    spent = []
    for r in records:
        started = time.perf_counter()
        find_copies(store, r.video_id, fps)
        spent.append(time.perf_counter() - started)
    return {"median_ms": round(1000 * float(np.median(spent)), 1), "p90_ms": round(1000 * float(np.percentile(spent, 90)), 1),
            "frames": store.count_frames(), "videos": len(store.list_videos())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--data-dir", type=Path, help="an index of the corpus already made (else a fresh one)")
    parser.add_argument("--grow", type=int, nargs="*", default=[], help="library sizes, as multiples of the corpus's frames")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    from vidsearch.config import load_settings
    from vidsearch.duplicates import groups, pairs_of
    from vidsearch.store.open import open_store

    truth = json.loads((args.corpus / "truth.json").read_text())
    expected = truth_pairs(truth)
    with tempfile.TemporaryDirectory(prefix="dup-eval-") as scratch:
        data_dir = args.data_dir or Path(scratch)
        report: dict = {"corpus": str(args.corpus), "videos": len(truth)}
        if args.data_dir is None:
            report["index_s"] = round(index(args.corpus / "videos", data_dir), 1)
        store = open_store(load_settings(data_dir=data_dir))
        records = [r for r in store.list_videos() if r.status == "complete"]
        name = {r.video_id: Path(r.path).name for r in records}
        found = {frozenset((name[p.a], name[p.b])): p for p in pairs_of(records)}
        hits = expected & set(found)
        report |= {
            "complete": len(records), "true_pairs": len(expected), "found_pairs": len(found), "correct": len(hits),
            "precision": round(len(hits) / max(1, len(found)), 3), "recall": round(len(hits) / max(1, len(expected)), 3),
            "false": sorted(" ~ ".join(sorted(p)) + f" ({found[p].score:.2f}, {found[p].relation})"
                            for p in set(found) - expected),
            "missed": sorted(" ~ ".join(sorted(p)) for p in expected - set(found)),
            "groups": [[name[v] for v in members] for members in groups(records).members],
        }
        fps = records[0].sampling_fps or 1.0
        report["cost"] = [cost_per_video(store, records, fps) | {"library": "1x"}]
        base = store.count_frames()
        rng = np.random.default_rng(7)
        for times in args.grow:
            grow(store, base * times - store.count_frames(), rng)
            report["cost"].append(cost_per_video(store, records, fps) | {"library": f"{times}x"})
        store.close()
    print(json.dumps(report, indent=1))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
