"""A library with known copies, for the duplicate evaluation (bench/dup_eval.py).

    python bench/dup_corpus.py SRC_DIR OUT [--sources 6] [--seed 1]

OUT/videos holds every video of SRC_DIR (linked), and made from some of them (`--sources`):
- a re-encode (H.264 at a low quality), a rescale (MPEG-4 at half size), a trim (about the middle
  half), and one inside a longer video (two seconds of two other videos around it);
distractors, which are no copies of anything:
- videos that open with the first 4 s of a library video, then show footage of their own
  (generated: life, cellular automata, fractals, test patterns, each with its own seed);
- videos that open and close with one logo card, with footage of their own between.

OUT/truth.json lists each video as pieces (source, start, end): two videos are copies when the
footage they share covers at least 0.8 of the shorter one's (vidsearch.duplicates.MIN_COVER).
Videos of one source in two encodes (SRC_DIR's pairs, known by name) are pieces of one source.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
from pathlib import Path

# Videos of SRC_DIR that are one footage in two encodes: their common name.
SAME_FOOTAGE = {"bbb_opening_480p_30s.mp4": "bbb_opening", "bbb_opening_720p_30s.webm": "bbb_opening",
                "apollo_lunar_surface_mjpeg.mov": "apollo", "apollo_lunar_surface_vp9.mp4": "apollo"}
GENERATED = [
    "life=s=320x240:mold=10:r=25:ratio=0.1:seed={seed}:death_color=#C83232:life_color=#00ff00",
    "cellauto=s=320x240:rule={rule}:seed={seed}:r=25",
    "mandelbrot=s=320x240:r=25:start_x=-{x}:start_y=0.{seed}",
    "testsrc2=s=320x240:r=25",
]


def duration(path: Path) -> float:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
                         capture_output=True, text=True, check=True).stdout
    return float(out.strip())


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True)


H264 = ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-an"]
UNIFORM = "scale=320:240:force_original_aspect_ratio=decrease,pad=320:240:(ow-iw)/2:(oh-ih)/2,setsar=1,fps=25"


def piece(src: Path, start: float, seconds: float, out: Path) -> None:
    """`seconds` of `src` from `start`, in one uniform shape, for joining."""
    ffmpeg("-ss", f"{start:.3f}", "-i", str(src), "-t", f"{seconds:.3f}", "-vf", UNIFORM, *H264, "-crf", "20", str(out))


def generated(kind: int, seed: int, seconds: float, out: Path) -> None:
    source = GENERATED[kind % len(GENERATED)].format(seed=seed, rule=30 + 10 * seed % 150, x=0.5 + seed / 100)
    extra = ["-vf", f"hue=h={37 * seed % 360}"] if kind % len(GENERATED) == 3 else []
    ffmpeg("-f", "lavfi", "-i", source, "-t", f"{seconds:.3f}", *extra, *H264, "-crf", "20", str(out))


def logo_card(seconds: float, out: Path) -> None:
    ffmpeg("-f", "lavfi", "-i", f"color=c=black:s=320x240:r=25:d={seconds}", "-vf",
           "drawtext=text='NORTHWIND':fontcolor=white:fontsize=44:x=(w-tw)/2:y=(h-th)/2,"
           "drawbox=x=40:y=60:w=240:h=120:color=orange@1:t=6", *H264, "-crf", "20", str(out))


def join(parts: list[Path], out: Path) -> None:
    listing = out.with_suffix(".txt")
    listing.write_text("".join(f"file '{p.resolve()}'\n" for p in parts))
    ffmpeg("-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy", str(out))
    listing.unlink()
    for p in parts:
        p.unlink(missing_ok=True)


def build(src: Path, out: Path, sources: int, seed: int) -> dict:
    rng = random.Random(seed)
    videos = out / "videos"
    work = out / "work"
    videos.mkdir(parents=True, exist_ok=True)
    work.mkdir(exist_ok=True)
    originals = sorted(p for p in src.iterdir() if p.is_file() and not p.name.startswith("."))
    lengths = {p.name: duration(p) for p in originals}
    truth: dict[str, list] = {}
    for p in originals:
        link = videos / p.name
        if not link.exists():
            link.symlink_to(p.resolve())
        truth[p.name] = [[SAME_FOOTAGE.get(p.name, p.name), 0.0, lengths[p.name]]]
    chosen = rng.sample([p for p in originals if lengths[p.name] >= 4], sources)
    long_ones = [p for p in originals if lengths[p.name] >= 10]  # two seconds of them are a small part
    for i, p in enumerate(chosen):
        name, length, footage = p.stem, lengths[p.name], truth[p.name][0][0]
        ffmpeg("-i", str(p), *H264, "-crf", "34", str(videos / f"{name}.reencode.mp4"))
        truth[f"{name}.reencode.mp4"] = [[footage, 0.0, length]]
        ffmpeg("-i", str(p), "-vf", "scale=trunc(iw/4)*2:trunc(ih/4)*2", "-c:v", "mpeg4", "-q:v", "6", "-an",
               str(videos / f"{name}.half.avi"))
        truth[f"{name}.half.avi"] = [[footage, 0.0, length]]
        start, seconds = round(length * rng.uniform(0.15, 0.3), 2), round(length * rng.uniform(0.45, 0.6), 2)
        ffmpeg("-ss", str(start), "-i", str(p), "-t", str(seconds), *H264, "-crf", "26", str(videos / f"{name}.trim.mp4"))
        truth[f"{name}.trim.mp4"] = [[footage, start, start + seconds]]
        before, after = rng.sample([q for q in long_ones if q != p and truth[q.name][0][0] != footage], 2)
        b0, a0 = rng.uniform(0, lengths[before.name] - 2), rng.uniform(0, lengths[after.name] - 2)
        parts = [work / f"{i}a.mp4", work / f"{i}b.mp4", work / f"{i}c.mp4"]
        piece(before, b0, 2.0, parts[0])
        piece(p, 0.0, length, parts[1])
        piece(after, a0, 2.0, parts[2])
        join(parts, videos / f"{name}.inside.mp4")
        truth[f"{name}.inside.mp4"] = [[truth[before.name][0][0], b0, b0 + 2], [footage, 0.0, length],
                                       [truth[after.name][0][0], a0, a0 + 2]]
    intro_of = rng.choice(long_ones)
    for j in range(4):
        parts = [work / f"i{j}a.mp4", work / f"i{j}b.mp4"]
        piece(intro_of, 0.0, 4.0, parts[0])
        generated(j, seed * 10 + j, 12.0, parts[1])
        join(parts, videos / f"distractor_intro_{j}.mp4")
        truth[f"distractor_intro_{j}.mp4"] = [[truth[intro_of.name][0][0], 0.0, 4.0], [f"generated_{j}", 0, 12]]
    for j in range(2):
        parts = [work / f"l{j}a.mp4", work / f"l{j}b.mp4", work / f"l{j}c.mp4"]
        logo_card(3.0, parts[0])
        generated(j + 4, seed * 10 + j + 4, 12.0, parts[1])
        logo_card(3.0, parts[2])
        join(parts, videos / f"distractor_logo_{j}.mp4")
        truth[f"distractor_logo_{j}.mp4"] = [["logo", 0, 3], [f"generated_{j + 4}", 0, 12], ["logo", 0, 3]]
    work.rmdir()
    (out / "truth.json").write_text(json.dumps(truth, indent=1))
    return truth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("src", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--sources", type=int, default=6, help="library videos copies are made of")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    truth = build(args.src, args.out, args.sources, args.seed)
    print(f"{len(truth)} videos in {args.out / 'videos'}; truth in {args.out / 'truth.json'}")


if __name__ == "__main__":
    main()
