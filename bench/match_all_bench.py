"""A folder of clips matched at once (`vidsearch match-all`) against the same clips sent one after
another to /match of a running service, in the same run; then match-all's clips per second as the
library grows.

    python bench/match_all_bench.py VIDEO_DIR UNINDEXED_DIR [--clips 200] [--per-edit 4] [--seed 0]
                                    [--work DIR] [--factors 1 10 100] [--scale-clips 40] [--json OUT]

Indexes VIDEO_DIR (copy vectors and audio; no semantic model, no speech) into a data dir under
--work, and cuts clips of 5-30 s through every edit of bench/edits.py (`--per-edit` each, drawn
down to `--clips` less the negatives) plus clips of UNINDEXED_DIR (nothing indexed: they should
match nothing). Then, with `vidsearch serve` running on that data dir (one warm-up /match first,
so that its copy index is loaded), it times:

- sequential: each clip uploaded to /match, one after another (k=5);
- match-all: `vidsearch match-all CLIPS --force` on the same cluster, from the command's start to
  its exit (discovery, checksums, decoding, matching, the report);

and compares their matches clip by clip: source, clip and source ranges, score, mirror, inset,
crop, speed and the audio's verdict. Then the service stops and, for each factor, the library
grows to that many times its frames with synthetic distractor videos (bench/match_scale.py's)
written to the store, and match-all runs again on `--scale-clips` of the clips.
`--work DIR` keeps the clips and the data dir for the next run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import edits  # noqa: E402  (bench/ is the script's folder)
from match_eval import make_queries  # noqa: E402
from match_scale import DISTRACTOR_FRAMES, distractor  # noqa: E402

BIN = Path(sys.executable).parent
CONFIG = "semantic:\n  enabled: false\nspeech:\n  enabled: false\nsubtitles:\n  enabled: false\n"
MAX_CLIP_S = 30.0


def run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, **kwargs)


def make_clips(videos: Path, unindexed: Path, out: Path, total: int, per_edit: int, seed: int) -> list[Path]:
    """`total` clips of 5-30 s: edited copies of `videos`, and clips of `unindexed` (about a tenth)."""
    edits.MAX_CLIP_S = MAX_CLIP_S
    out.mkdir(parents=True, exist_ok=True)
    audible = {p.name for p in videos.iterdir() if p.is_file() and edits.probe(p).has_audio}  # for the audio edits
    # WMV is left out of the unindexed footage: ffmpeg's -stream_loop never ends on its timestamps.
    footage = sorted(p for p in unindexed.iterdir() if p.is_file() and p.suffix.lower() != ".wmv")
    queries = make_queries(list(edits.EDITS.values()), sorted(p for p in videos.iterdir() if p.is_file()),
                           footage, per_edit, out, seed, audible, window_negatives=False)
    files = [q.file for q in queries if _duration(q.file) <= MAX_CLIP_S]
    negatives = [f for f in files if f.name.startswith("negative-")]
    positives = [f for f in files if f not in negatives]
    rng = random.Random(seed)
    chosen = sorted(rng.sample(positives, min(len(positives), total - len(negatives))) + negatives)
    for f in set(out.iterdir()) - set(chosen):  # the folder holds exactly the corpus
        f.unlink()
    return chosen


def _duration(path: Path) -> float:
    done = run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)])
    return float(done.stdout.strip() or "inf")


def start_service(data_dir: Path, config: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "RAY_ADDRESS": ""}
    run([str(BIN / "ray"), "stop", "--force"], env=env)
    service = subprocess.Popen(
        [str(BIN / "vidsearch"), "serve", "--data-dir", str(data_dir), "--config", str(config), "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True,
    )
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200:
                return service
        except httpx.HTTPError:
            pass
        if service.poll() is not None:
            raise SystemExit(f"vidsearch serve exited with {service.returncode}")
        time.sleep(1)
    raise SystemExit("the service did not answer /health in 10 minutes")


def stop_service(service: subprocess.Popen) -> None:
    os.killpg(service.pid, signal.SIGTERM)
    try:
        service.wait(120)
    except subprocess.TimeoutExpired:
        os.killpg(service.pid, signal.SIGKILL)
    run([str(BIN / "ray"), "stop", "--force"], env={**os.environ, "RAY_ADDRESS": ""})


def sequential(clips: list[Path], port: int) -> tuple[float, dict[str, list[dict]]]:
    found = {}
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=600) as client:
        started = time.perf_counter()
        for clip in clips:
            with clip.open("rb") as f:
                answer = client.post("/match", params={"k": 5}, files={"file": (clip.name, f)})
            found[str(clip.resolve())] = answer.json().get("matches", []) if answer.status_code == 200 else \
                [{"error": answer.status_code}]
        return time.perf_counter() - started, found


def match_all(folder: Path, data_dir: Path, config: Path, report: Path) -> tuple[float, dict, dict[str, list[dict]]]:
    started = time.perf_counter()
    done = run([str(BIN / "vidsearch"), "match-all", str(folder), "--data-dir", str(data_dir), "--config", str(config),
                "--out", str(report), "--force", "--json"])
    wall = time.perf_counter() - started
    if done.returncode not in (0, 3):
        raise SystemExit(f"match-all failed ({done.returncode}): {done.stderr[-2000:]}")
    kept = json.loads(report.read_text())
    summary = kept["summary"]
    found: dict[str, list[dict]] = {}
    for row in kept["rows"]:
        found.setdefault(row["clip_path"], [])
        if row["video_id"]:
            found[row["clip_path"]].append(row)
    return wall, summary, found


def key(match: dict) -> tuple:
    """What must agree between /match's answer and the report's row."""
    if "error" in match:
        return ("error", match["error"])
    crop = match.get("crop")
    if isinstance(crop, dict):
        crop = f"{crop['x']},{crop['y']},{crop['width']},{crop['height']}"
    audio = match.get("audio") if "audio" in match else None
    verified = match.get("audio_verified", audio["verified"] if isinstance(audio, dict) else None)
    return (match["video_id"], match["source_start_s"], match["source_end_s"], match.get("query_start_s", match.get("clip_start_s")),
            match.get("query_end_s", match.get("clip_end_s")), match["score"], match["flipped"], match["inset"], crop,
            match["speed"], verified)


def add_distractors(data_dir: Path, config: Path, frames: int, seed: int) -> int:
    """Grow the library with synthetic videos until it holds `frames` copy vectors; the frames added."""
    from vidsearch.config import load_settings
    from vidsearch.copy_index import CopyIndex
    from vidsearch.media.probe import VideoMetadata
    from vidsearch.store import ids, open_store
    from vidsearch.store.records import VideoRecord

    store = open_store(load_settings(config, data_dir=data_dir))
    try:
        index = CopyIndex()
        index.sync(store)
        real = np.concatenate([index.frames(v)[1] for v in store.complete_versions() if not v.startswith("distract")])
        rng = np.random.default_rng(seed + len(index))
        meta = VideoMetadata(container="mov,mp4", duration_s=DISTRACTOR_FRAMES, width=1280, height=720, coded_width=1280,
                             coded_height=720, fps=25, variable_frame_rate=False, video_codec="h264")
        added, n = 0, len(store.complete_versions())
        while len(index) + added < frames:
            count = min(DISTRACTOR_FRAMES, frames - len(index) - added)
            record = VideoRecord(video_id=ids.video_id(f"distractor-{n}"), path=f"/distractors/video{n:06d}.mp4",
                                 checksum=f"distractor-{n}", size_bytes=10**8, status="indexing", metadata=meta,
                                 sampling_fps=1.0)
            store.put_video(record)
            rows = np.arange(count)
            store.upsert_frames(record.frame_payload(), rows, rows.astype(np.float32), distractor(rng, real, count))
            store.set_status(record.video_id, "complete", frames=count)
            added, n = added + count, n + 1
        store.optimize()
        return added
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("videos", type=Path)
    parser.add_argument("unindexed", type=Path)
    parser.add_argument("--clips", type=int, default=200)
    parser.add_argument("--per-edit", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path)
    parser.add_argument("--port", type=int, default=8123)
    parser.add_argument("--factors", type=int, nargs="*", default=[1, 10, 100])
    parser.add_argument("--scale-clips", type=int, default=40)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    work = args.work or Path(tempfile.mkdtemp(prefix="vidsearch-match-all-"))
    data_dir, clips_dir, config = work / "data", work / "clips", work / "config.yaml"
    work.mkdir(parents=True, exist_ok=True)
    config.write_text(CONFIG)
    if not (data_dir / "edge").exists():
        done = run([str(BIN / "vidsearch"), "index", str(args.videos), "--data-dir", str(data_dir), "--config", str(config),
                    "--json"], env={**os.environ, "RAY_ADDRESS": ""})
        if done.returncode not in (0, 3):
            raise SystemExit(f"indexing failed: {done.stderr[-2000:]}")
        print(f"indexed: {done.stdout.strip().splitlines()[-1][:200]}", flush=True)
    started = time.perf_counter()
    clips = make_clips(args.videos, args.unindexed, clips_dir, args.clips, args.per_edit, args.seed)
    negatives = sum(c.name.startswith("negative-") for c in clips)
    print(f"{len(clips)} clips ({negatives} of nothing indexed), {sum(map(_duration, clips)):.0f} s, "
          f"made in {time.perf_counter() - started:.0f} s", flush=True)

    service = start_service(data_dir, config, args.port)
    try:
        sequential(clips[:1], args.port)  # the Reranker's copy index is loaded by its first match
        seq_s, by_match = sequential(clips, args.port)
        print(f"sequential /match: {seq_s:.1f} s, {len(clips) / seq_s:.2f} clips/s", flush=True)
        all_s, summary, by_job = match_all(clips_dir, data_dir, config, work / "report.json")
        print(f"match-all: {all_s:.1f} s, {len(clips) / all_s:.2f} clips/s", flush=True)
    finally:
        stop_service(service)
    same = sum([key(m) for m in by_match[str(c.resolve())]] == [key(m) for m in by_job.get(str(c.resolve()), [])]
               for c in clips)
    differ = [c.name for c in clips if [key(m) for m in by_match[str(c.resolve())]] !=
              [key(m) for m in by_job.get(str(c.resolve()), [])]]
    result = {
        "clips": len(clips), "negatives": negatives, "sequential_s": round(seq_s, 1), "match_all_s": round(all_s, 1),
        "speedup": round(seq_s / all_s, 2), "identical": same, "differ": differ[:20],
        "matched": summary["matched"], "unmatched": summary["unmatched"], "failed": len(summary["failed"]),
        "scale": [],
    }
    print(json.dumps({k: v for k, v in result.items() if k != "scale"}), flush=True)

    scale_dir = work / "scale-clips"
    scale_dir.mkdir(exist_ok=True)
    for clip in random.Random(args.seed).sample(clips, min(args.scale_clips, len(clips))):
        if not (scale_dir / clip.name).exists():
            (scale_dir / clip.name).symlink_to(clip.resolve())
    real_frames = None
    for factor in args.factors:
        if real_frames is None:
            from vidsearch.config import load_settings
            from vidsearch.store import open_store

            store = open_store(load_settings(config, data_dir=data_dir))
            real_frames = sum(r.frames for r in store.list_videos("complete") if not r.path.startswith("/distractors"))
            store.close()
        added = add_distractors(data_dir, config, real_frames * factor, args.seed)
        wall, summary, _ = match_all(scale_dir, data_dir, config, work / f"scale-{factor}.json")
        row = {"factor": factor, "frames": real_frames * factor, "added": added, "clips": summary["clips"],
               "wall_s": round(wall, 1), "clips_per_s": round(summary["clips"] / wall, 3),
               "matched": summary["matched"]}
        result["scale"].append(row)
        print(json.dumps(row), flush=True)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
