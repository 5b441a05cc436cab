"""Videos joined from single-shot pieces of real clips: the ground truth of shot-boundary detection.

Each output video is a chain of short segments cut from real videos, joined by a hard cut or by a
gradual transition (a cross-dissolve, a fade through black or a fade through white), so the time
of every shot boundary is known to the frame. Segments are taken only from spans in which ffmpeg's
own scene-change score (the one its `select` filter computes) never passes CUT_SCORE, so no
segment holds a cut of its own that a detector would find and the truth would lack; spans that are
dark or flat are skipped too, as a join between two of them cannot be seen.

    python bench/shot_corpus.py SRC_DIR OUT_DIR [--videos N] [--segments N] [--seed S]

writes OUT_DIR/vNN.mp4 (640x360, 25 fps, no audio), OUT_DIR/scores/ (a cache of each source's
per-frame scores) and OUT_DIR/truth.json: {"corpus", "fps", "videos": [{"file", "duration_s",
"boundaries": [{"kind", "time_s", "start_s", "end_s"}], "segments": [{"source", "from_s", "to_s"}]}]}
where a cut's time is that of the new segment's first frame and a transition's is its midpoint.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import av
import numpy as np

FPS = 25
WIDTH, HEIGHT = 640, 360
CUT_SCORE = 0.08  # a frame scoring above this may start a new shot in its source
CUT_MARGIN_S = 0.3  # how far a segment keeps from such a frame
MIN_SPAN_S = 2.5
DARK_YAVG = 20  # mean luma below this: a dark frame
FLAT_RANGE = 10  # 90th minus 10th percentile of luma below this: a flat frame
SEGMENT_FRAMES = (math.ceil(2.5 * FPS), 6 * FPS)
FADE_FRAMES = (math.ceil(0.5 * FPS), math.floor(1.5 * FPS))
CLEAN_FRAMES = FPS  # untouched frames each segment keeps between its transitions
GRADUAL = {"dissolve": "fade", "fadeblack": "fadeblack", "fadewhite": "fadewhite"}  # kind: xfade's
DISTINCT = 12.0  # mean absolute luma difference (0-255) two sides of a join must at least have

Span = tuple[float, float]


@dataclass(frozen=True)
class Segment:
    source: str  # file name in SRC_DIR
    from_s: float
    to_s: float


@dataclass(frozen=True)
class Boundary:
    kind: str  # "cut" or a key of GRADUAL
    time_s: float  # a cut's first new frame, a transition's midpoint
    start_s: float
    end_s: float


def scores(video: Path, cache: Path) -> list[list[float]]:
    """[pts_time, scene score, mean luma, luma range] per frame, from ffmpeg, cached in `cache`."""
    path = cache / f"{video.name}.json"
    size = video.stat().st_size
    if path.exists() and (kept := json.loads(path.read_text()))["size"] == size:
        return kept["frames"]
    graph = "scale=320:-2,select='gte(scene,0)',signalstats,metadata=print:file=-"
    text = subprocess.run(["ffmpeg", "-v", "error", "-i", str(video), "-vf", graph, "-an", "-f", "null", "-"],
                          capture_output=True, text=True, check=True).stdout
    frames: list[list[float]] = []
    values: dict[str, float] = {}
    for line in text.splitlines() + ["frame:end"]:
        if line.startswith("frame:"):
            if values:
                frames.append([values["t"], values["lavfi.scene_score"], values["lavfi.signalstats.YAVG"],
                               values["lavfi.signalstats.YHIGH"] - values["lavfi.signalstats.YLOW"]])
            values = {"t": float(line.rsplit("pts_time:", 1)[1])} if "pts_time:" in line else {}
        elif line.startswith("lavfi.") and values:
            key, value = line.split("=", 1)
            values[key] = float(value)
    cache.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"size": size, "frames": frames}))
    return frames


def usable_spans(frames: list[list[float]]) -> list[Span]:
    """Spans of at least MIN_SPAN_S that keep CUT_MARGIN_S from every possible cut and hold no
    dark or flat frame."""
    if len(frames) < 2:
        return []
    step = float(np.median(np.diff([f[0] for f in frames])))
    bad = [(t - CUT_MARGIN_S, t + CUT_MARGIN_S) for t, score, _, _ in frames if score > CUT_SCORE]
    bad += [(t, t + step) for t, _, mean, spread in frames if mean < DARK_YAVG or spread < FLAT_RANGE]
    end = frames[-1][0] + step - 0.1  # a little short of the end, where the last frames may be odd
    spans, at = [], frames[0][0]
    for lo, hi in sorted(bad + [(end, math.inf)]):
        if lo - at >= MIN_SPAN_S:
            spans.append((round(at, 3), round(lo, 3)))
        at = max(at, hi)
    return spans


def thumb(video: Path, t: float) -> np.ndarray:
    """The frame shown at second `t` of `video` (as ffmpeg counts it, from 0), in grey at 32x18."""
    with av.open(str(video)) as container:
        t += (container.start_time or 0) / av.time_base
        container.seek(int(max(t - 1.0, 0) * av.time_base))
        shown = None
        for frame in container.decode(video=0):
            if shown is not None and frame.time is not None and frame.time > t:
                break
            shown = frame
        assert shown is not None, video
        return shown.to_ndarray(width=32, height=18, format="gray").astype(np.float32)


def same_footage(src: Path, lengths: dict[str, float]) -> dict[str, str]:
    """Each source's first source (maybe itself) of equal length and like pictures: one film in
    two encodings must count as one source, or a join between the two could show no change."""
    first: dict[str, str] = {}
    for name, length in lengths.items():
        first[name] = next((other for other in dict.fromkeys(first.values())
                            if abs(lengths[other] - length) < 0.5
                            and all(np.abs(thumb(src / name, t) - thumb(src / other, t)).mean() < DISTINCT
                                    for t in (length / 4, length / 2, length * 3 / 4))), name)
    return first


def plan(spans: dict[str, list[Span]], footage: dict[str, str], n: int, rng: random.Random, src: Path
         ) -> tuple[list[Segment], list[tuple[str, int]]]:
    """Segments, and (kind, frames of transition) for each join between two of them. Consecutive
    segments come from different footage, or from different spans of it, and must look unlike."""
    joins = [("cut", 0) if rng.random() < 0.5 else (rng.choice(sorted(GRADUAL)), rng.randint(*FADE_FRAMES))
             for _ in range(n - 1)]
    segments: list[Segment] = []
    for i in range(n):
        fades = (joins[i - 1][1] if i else 0) + (joins[i][1] if i < n - 1 else 0)
        need = max(SEGMENT_FRAMES[0], fades + CLEAN_FRAMES)
        prev = segments[-1] if segments else None
        after = footage[prev.source] if prev else None
        for _ in range(100):
            options = {name: fit for name, own in spans.items()
                       if (fit := [s for s in own if (s[1] - s[0]) * FPS >= need
                                   and not (footage[name] == after and s[0] <= prev.from_s < s[1])])}
            if not options:
                raise SystemExit(f"no span of {need / FPS:.2f} s for segment {i}")
            used = {footage[s.source] for s in segments}
            fresh = [name for name in options if footage[name] not in used] or list(options)
            fresh = [name for name in fresh if footage[name] != after] or fresh
            group = rng.choice(sorted({footage[name] for name in fresh}))
            name = rng.choice([name for name in fresh if footage[name] == group])
            lo, hi = rng.choice(options[name])
            frames = rng.randint(need, max(need, min(SEGMENT_FRAMES[1], int((hi - lo) * FPS))))
            start = round(rng.uniform(lo, hi - frames / FPS), 3)
            segment = Segment(name, start, round(start + frames / FPS, 3))
            if prev is None or np.abs(thumb(src / prev.source, prev.to_s - 1 / FPS)
                                      - thumb(src / name, start)).mean() >= DISTINCT:
                segments.append(segment)
                break
        else:
            raise SystemExit(f"no segment for place {i} differs enough from the one before it")
    return segments, joins


def render(segments: list[Segment], joins: list[tuple[str, int]], src: Path, target: Path
           ) -> tuple[list[Boundary], float]:
    """Writes the joined video; returns its boundaries and its duration."""
    cmd, graph = ["ffmpeg", "-v", "error", "-y"], []
    lengths = [round((s.to_s - s.from_s) * FPS) for s in segments]
    for i, (segment, frames) in enumerate(zip(segments, lengths)):
        cmd += ["-ss", f"{segment.from_s:.3f}", "-t", f"{frames / FPS + 0.5:.3f}", "-i", str(src / segment.source)]
        graph.append(f"[{i}:v]fps={FPS},scale={WIDTH}:{HEIGHT}:force_original_aspect_ratio=decrease:"
                     f"force_divisible_by=2,pad={WIDTH}:{HEIGHT}:(ow-iw)/2:(oh-ih)/2,setsar=1,format=yuv420p,"
                     f"trim=end_frame={frames},setpts=PTS-STARTPTS,settb=1/{FPS}[s{i}]")
    boundaries, so_far, last = [], lengths[0], "s0"  # so_far: frames in the output up to the join
    for i, (kind, fade) in enumerate(joins, 1):
        start = so_far - fade
        if kind == "cut":
            graph.append(f"[{last}][s{i}]concat=n=2:v=1:a=0,settb=1/{FPS}[j{i}]")
        else:
            graph.append(f"[{last}][s{i}]xfade=transition={GRADUAL[kind]}:duration={fade / FPS}:"
                         f"offset={start / FPS}[j{i}]")
        boundaries.append(Boundary(kind, (start + so_far) / 2 / FPS, start / FPS, so_far / FPS))
        so_far, last = start + lengths[i], f"j{i}"
    cmd += ["-filter_complex", ";".join(graph), "-map", f"[{last}]", "-an", "-r", str(FPS),
            "-c:v", "libx264", "-crf", "23", "-preset", "veryfast", "-pix_fmt", "yuv420p", str(target)]
    subprocess.run(cmd, check=True)
    return boundaries, so_far / FPS


def verify(video: Path, boundaries: list[Boundary], duration_s: float) -> list[str]:
    """Warnings: a duration off by a frame or more, a cut whose frame difference does not stand out
    from its neighbours' (or peaks a frame off), a transition whose two sides look alike."""
    warnings = []
    probed = float(subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=duration",
         "-of", "csv=p=0", str(video)], capture_output=True, text=True, check=True).stdout)
    if abs(probed - duration_s) >= 1 / FPS:
        warnings.append(f"lasts {probed:.3f} s, not {duration_s:.3f} s")
    with av.open(str(video)) as container:
        frames = np.stack([f.to_ndarray(width=160, height=90, format="gray").astype(np.float32)
                           for f in container.decode(video=0)])
    if len(frames) != round(duration_s * FPS):
        warnings.append(f"has {len(frames)} frames, not {round(duration_s * FPS)}")
    diffs = np.r_[0.0, np.abs(np.diff(frames, axis=0)).mean(axis=(1, 2))]  # diffs[k]: frame k-1 to k
    for b in boundaries:
        first, last = round(b.start_s * FPS), round(b.end_s * FPS)
        if not (6 < first and last + 6 < len(frames)):
            warnings.append(f"{b.kind} at {b.time_s:.2f} s is too near an end to check")
        elif b.kind == "cut":
            around = np.r_[diffs[first - 6 : first - 1], diffs[first + 2 : first + 7]]
            peak = first - 2 + int(np.argmax(diffs[first - 2 : first + 3]))
            if diffs[first] < 3 * max(float(np.median(around)), 1.0) or peak != first:
                warnings.append(f"cut at {b.time_s:.2f} s: difference {diffs[first]:.1f}, neighbours' "
                                f"{np.median(around):.1f}, largest at frame {peak} not {first}")
        elif (change := np.abs(frames[last] - frames[first - 1]).mean()) < DISTINCT:
            warnings.append(f"{b.kind} at {b.time_s:.2f} s: sides differ by only {change:.1f}")
    return warnings


def build(src: Path, out: Path, n_videos: int, n_segments: int, seed: int, corpus: str) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    spans: dict[str, list[Span]] = {}
    lengths: dict[str, float] = {}
    for video in sorted(p for p in src.iterdir() if p.is_file()):
        try:
            frames = scores(video, out / "scores")
        except subprocess.CalledProcessError:
            print(f"{video.name}: not readable, skipped")
            continue
        own = usable_spans(frames)
        print(f"{video.name}: {sum(b - a for a, b in own):.1f} usable s in {len(own)} spans")
        if own:
            spans[video.name], lengths[video.name] = own, frames[-1][0]
    if len(spans) < 2:
        raise SystemExit(f"{len(spans)} usable sources in {src}: too few to join")
    footage = same_footage(src, lengths)
    for name, first in footage.items():
        if first != name:
            print(f"{name}: the same footage as {first}, counted as one source")
    rng = random.Random(seed)
    videos = []
    for v in range(n_videos):
        segments, joins = plan(spans, footage, n_segments, rng, src)
        target = out / f"v{v:02d}.mp4"
        boundaries, duration_s = render(segments, joins, src, target)
        for warning in verify(target, boundaries, duration_s):
            print(f"WARNING {target.name}: {warning}")
        print(f"{target.name}: {duration_s:.2f} s, " + ", ".join(f"{b.kind}@{b.time_s:.2f}" for b in boundaries))
        rounded = [{k: round(x, 3) if isinstance(x, float) else x for k, x in asdict(b).items()} for b in boundaries]
        videos.append({"file": target.name, "duration_s": round(duration_s, 3), "boundaries": rounded,
                       "segments": [asdict(s) for s in segments]})
    truth = {"corpus": corpus, "fps": FPS, "videos": videos}
    (out / "truth.json").write_text(json.dumps(truth, indent=1))
    return truth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("src", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--videos", type=int, default=8)
    parser.add_argument("--segments", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--corpus", help="name written to truth.json (default: SRC_DIR's name)")
    args = parser.parse_args()
    began = time.monotonic()
    truth = build(args.src, args.out, args.videos, args.segments, args.seed, args.corpus or args.src.name)
    kinds: dict[str, int] = {}
    for video in truth["videos"]:
        for b in video["boundaries"]:
            kinds[b["kind"]] = kinds.get(b["kind"], 0) + 1
    print(f"{len(truth['videos'])} videos, boundaries {kinds}, under {args.out} "
          f"in {time.monotonic() - began:.0f} s")


if __name__ == "__main__":
    main()
