"""How often clip matching is right: accuracy, localisation and audio agreement on transformed clips.

    python bench/match_eval.py VIDEO_DIR [--seed 0] [--held-out 4] [--per-transform 8] [--json OUT]
                               [--clips DIR]

With a fixed seed: index all but `--held-out` videos of VIDEO_DIR (copy vectors and audio, through
the real index job), then cut query clips of 5-60 s at random offsets and put them through what a
re-upload goes through (ffmpeg): heavy re-encodes, downscaling, crops, borders, colour, blur,
frame-rate changes, flips, picture-in-picture, audio re-encoded, removed or replaced, and clips
spliced from two sources. Clips of held-out videos are the negatives. Each query runs through the
same in-process chain as the service's /match (decode, candidates, alignment, audio verification).

Per transformation it prints: top-1 source accuracy, source start/end error, segment IoU, audio
verified rate (where the clip keeps its source's audio and that audio is not silent; with replaced
audio it should be 0), audio/visual offset agreement, latency per query;
then false matches on negatives and the micro-average precision over all (source, segment)
predictions, ranked by score, as the Video Similarity Challenge scores matching.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


@dataclass(frozen=True)
class Truth:
    """Where a stretch of the query comes from: seconds in the source and in the query."""

    path: str
    source_start_s: float
    source_end_s: float
    query_start_s: float


@dataclass
class Query:
    transform: str
    file: Path
    truths: list[Truth]  # empty for a negative
    audio: str  # "same": the source's audio, re-encoded; "none"; "other": someone else's


# name -> (video filter, extra output args, audio mode). {W}/{H}: a multiple of 2 below the size.
TRANSFORMS: dict[str, tuple[str, list[str], str]] = {
    "h264_crf35": ("null", ["-crf", "35"], "same"),
    "vp9": ("null", ["-c:v", "libvpx-vp9", "-b:v", "400k", "-deadline", "realtime", "-cpu-used", "8"], "same"),
    "360p": ("scale=-2:360", [], "same"),
    "240p": ("scale=-2:240", [], "same"),
    "crop_15pct": ("crop=trunc(iw*0.85/2)*2:trunc(ih*0.85/2)*2:{cx}*iw*0.15:{cy}*ih*0.15", [], "same"),
    "letterbox": ("scale=640:-2,pad=iw:ih+120:0:60", [], "same"),
    "pillarbox": ("scale=-2:360,pad=iw+160:ih:80:0", [], "same"),
    "brightness_contrast": ("eq=brightness={b}:contrast={c}", [], "same"),
    "blur": ("gblur=sigma=2", [], "same"),
    "fps_24": ("fps=24", [], "same"),
    "fps_30": ("fps=30", [], "same"),
    "audio_low_bitrate": ("scale=-2:360", ["-b:a", "24k", "-ac", "1", "-ar", "22050"], "same"),
    "audio_removed": ("scale=-2:360", ["-an"], "none"),
    "audio_replaced": ("scale=-2:360", [], "other"),
    "hflip": ("hflip", [], "same"),
    "picture_in_picture": ("", [], "same"),  # built by `pip_clip`
    "two_sources": ("", [], "same"),  # built by `spliced_clip`
}
REPORT_APART = {"hflip", "picture_in_picture"}  # harder cases, reported but outside the main figure


def run(cmd: list[str]) -> None:
    """ffmpeg, unless a previous run with the same seed already made this output (--clips)."""
    if Path(cmd[-1]).exists():
        return
    partial = Path(cmd[-1]).with_name("partial-" + Path(cmd[-1]).name)
    subprocess.run(["ffmpeg", "-v", "error", "-y", *cmd[:-1], str(partial)], check=True)
    partial.rename(cmd[-1])


def duration(path: Path) -> float:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
        capture_output=True, text=True, check=True,
    )
    return float(out.stdout.strip())


def has_audio(path: Path) -> bool:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "a", "-show_entries", "stream=index", "-of", "csv=p=0", str(path)],
        capture_output=True, text=True, check=True,
    )
    return bool(out.stdout.strip())


MIN_CLIP_S = 5.0


def excerpt(rng: random.Random, length_s: float, lo: float = MIN_CLIP_S, hi: float = 60) -> tuple[float, float]:
    seconds = min(rng.uniform(lo, hi), max(length_s - 1.0, 1.0))
    return round(rng.uniform(0, max(length_s - seconds, 0)), 2), round(seconds, 2)


def simple_clip(name: str, src: Path, start: float, seconds: float, out: Path, rng: random.Random, other: Path) -> None:
    vf, extra, audio = TRANSFORMS[name]
    vf = vf.format(cx=round(rng.random(), 2), cy=round(rng.random(), 2),
                   b=round(rng.choice([-1, 1]) * 0.1, 2), c=round(rng.choice([0.75, 1.25]), 2))
    cmd = ["-ss", str(start), "-t", str(seconds), "-i", str(src)]
    if audio == "other":
        cmd += ["-stream_loop", "-1", "-i", str(other), "-map", "0:v", "-map", "1:a", "-shortest"]
    codec = [] if "-c:v" in extra else ["-c:v", "libx264", "-preset", "veryfast"]
    audio_codec = [] if "-an" in extra else ["-c:a", "libopus" if out.suffix == ".webm" else "aac"]
    run(cmd + ["-vf", f"{vf},format=yuv420p", *codec, *audio_codec, *extra, str(out)])


def pip_clip(src: Path, start: float, seconds: float, background: Path, out: Path, rng: random.Random) -> None:
    """The source at half size over another video, in a random corner, with the source's audio."""
    x, y = rng.choice(["16", "W-w-16"]), rng.choice(["16", "H-h-16"])
    run(["-stream_loop", "-1", "-i", str(background), "-ss", str(start), "-t", str(seconds), "-i", str(src),
         "-filter_complex", f"[0:v]scale=1280:720,setsar=1[bg];[1:v]scale=640:-2[fg];[bg][fg]overlay={x}:{y}:shortest=1,format=yuv420p[v]",
         "-map", "[v]", "-map", "1:a?", "-t", str(seconds), "-c:v", "libx264", "-preset", "veryfast", "-c:a", "aac", str(out)])


def spliced_clip(parts: list[tuple[Path, float, float]], out: Path) -> None:
    """Excerpts of two sources one after the other (pictures only: their sound tracks differ)."""
    inputs, chains = [], []
    for i, (src, start, seconds) in enumerate(parts):
        inputs += ["-ss", str(start), "-t", str(seconds), "-i", str(src)]
        chains.append(f"[{i}:v]scale=640:360,setsar=1,fps=25,setpts=PTS-STARTPTS[v{i}]")
    graph = ";".join(chains) + ";" + "".join(f"[v{i}]" for i in range(len(parts))) + f"concat=n={len(parts)}:v=1:a=0[v]"
    run([*inputs, "-filter_complex", graph, "-map", "[v]", "-c:v", "libx264", "-preset", "veryfast", str(out)])


def make_queries(indexed: list[Path], held_out: list[Path], per_transform: int, out: Path, seed: int) -> list[Query]:
    rng = random.Random(seed)
    lengths = {p: duration(p) for p in indexed + held_out}
    indexed = [p for p in indexed if lengths[p] >= MIN_CLIP_S + 1]  # a source can give a 5 s clip
    with_audio = [p for p in indexed if has_audio(p)]
    voices = [p for p in held_out if has_audio(p)] or with_audio
    queries = []
    for name in TRANSFORMS:
        for n in range(per_transform):
            pool = with_audio if TRANSFORMS[name][2] != "none" else indexed
            src = rng.choice(pool)
            file = out / f"{name}-{n}.{'webm' if name == 'vp9' else 'mp4'}"
            if name == "two_sources":
                a, b = rng.sample(indexed, 2)
                (sa, la), (sb, lb) = excerpt(rng, lengths[a], 5, 30), excerpt(rng, lengths[b], 5, 30)
                spliced_clip([(a, sa, la), (b, sb, lb)], file)
                truths = [Truth(str(a), sa, sa + la, 0.0), Truth(str(b), sb, sb + lb, la)]
                queries.append(Query(name, file, truths, "none"))
                continue
            start, seconds = excerpt(rng, lengths[src])
            if name == "picture_in_picture":
                pip_clip(src, start, seconds, rng.choice(held_out), file, rng)
            else:
                simple_clip(name, src, start, seconds, file, rng, rng.choice([v for v in voices if v != src]))
            queries.append(Query(name, file, [Truth(str(src), start, start + seconds, 0.0)], TRANSFORMS[name][2]))
    # Negatives: clips of videos that were never indexed, through the same transformations.
    for n in range(per_transform * 4):
        src = held_out[n % len(held_out)]
        name = rng.choice([t for t in TRANSFORMS if t not in ("two_sources", "audio_replaced")])
        start, seconds = excerpt(rng, lengths[src])
        file = out / f"negative-{n}.{'webm' if name == 'vp9' else 'mp4'}"
        if name == "picture_in_picture":
            pip_clip(src, start, seconds, rng.choice(held_out), file, rng)
        else:
            simple_clip(name, src, start, seconds, file, rng, src)
        queries.append(Query(f"negative:{name}", file, [], "same"))
    return queries


@dataclass
class Outcome:
    transform: str
    truths: list[Truth]
    matches: list[dict]
    match_s: float  # candidates, alignment and audio: what the library's size drives
    decode_s: float
    audio_mode: str
    details: dict = field(default_factory=dict)


def iou(a: tuple[float, float], b: tuple[float, float]) -> float:
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return inter / union if union > 0 else 0.0


def evaluate(store, index, query: Query, fps: float) -> Outcome:
    from vidsearch.clips import clip_fingerprint, clip_vectors
    from vidsearch.search import match_clip, verify_audio

    started = time.perf_counter()
    clip = clip_vectors(str(query.file), fps=fps)
    audio = clip_fingerprint(str(query.file), clip.metadata)
    decoded = time.perf_counter()
    matches = match_clip(store, index, clip.copy, clip.insets, limit=5)
    matches = verify_audio(store, audio, matches)
    return Outcome(query.transform, query.truths, matches, time.perf_counter() - decoded, decoded - started, query.audio)


# Corpora hold the same footage more than once (a 480p and a 720p encode of one film): finding
# either is right. {name: {same-content name: offset}}, where second t of `name` is second
# t + offset of the other; filled by `same_content`.
SAME_CONTENT: dict[str, dict[str, float]] = {}
# Sources whose audio was fingerprinted: silent or missing tracks can only ever be "unknown".
AUDIBLE: set[str] = set()


def same_content(videos: list[Path], fps: float) -> dict[str, dict[str, float]]:
    """Pairs of corpus videos that are copies of each other over at least half the shorter one,
    found by aligning every video, whole, against all the others."""
    from vidsearch.alignment import match_clip
    from vidsearch.clips import clip_vectors

    vectors = {p.name: clip_vectors(str(p), fps=fps) for p in videos}
    found: dict[str, dict[str, float]] = {name: {} for name in vectors}
    for name, clip in vectors.items():
        others = {o: (v.copy, v.seconds) for o, v in vectors.items() if o != name}
        for other, seg in match_clip(clip.copy, others):
            shorter = min(clip.metadata.duration_s, vectors[other].metadata.duration_s)
            if seg.query_end_s - seg.query_start_s >= 0.5 * shorter:
                offset = seg.source_start_s - seg.query_start_s
                found[name][other], found[other][name] = offset, -offset
    return {name: others for name, others in found.items() if others}


def truth_in(match: dict, truth: Truth) -> tuple[float, float, float] | None:
    """The true (source start, source end, query start) on the matched video's timeline, or None
    when the match names another source."""
    name, source = Path(match["path"]).name, Path(truth.path).name
    if name == source:
        shift = 0.0
    elif name in SAME_CONTENT.get(source, {}):
        shift = SAME_CONTENT[source][name]
    else:
        return None
    return truth.source_start_s + shift, truth.source_end_s + shift, truth.query_start_s


def pair_hit(match: dict, truth: Truth) -> bool:
    where = truth_in(match, truth)
    return where is not None and iou((match["source_start_s"], match["source_end_s"]), where[:2]) > 0


def micro_ap(outcomes: list[Outcome]) -> float:
    """Average precision over every (query, source segment) prediction of every query, pooled and
    ranked by score; a prediction is right when it overlaps a true segment of its source not yet
    claimed by a better-scored prediction."""
    predictions = [(m["score"], i, m) for i, o in enumerate(outcomes) for m in o.matches]
    predictions.sort(key=lambda p: -p[0])
    total = sum(len(o.truths) for o in outcomes)
    claimed: set[tuple[int, int]] = set()
    hits, ap = 0, 0.0
    for rank, (_, i, m) in enumerate(predictions, 1):
        j = next((j for j, t in enumerate(outcomes[i].truths) if (i, j) not in claimed and pair_hit(m, t)), None)
        if j is None:
            continue
        claimed.add((i, j))
        hits += 1
        ap += hits / rank
    return ap / total if total else 0.0


def summarise(outcomes: list[Outcome]) -> dict:
    rows = {}
    for name in dict.fromkeys(o.transform for o in outcomes if not o.transform.startswith("negative")):
        group = [o for o in outcomes if o.transform == name]
        top1, start_err, end_err, ious, audio_ok, audio_n, agree, agree_n = 0, [], [], [], 0, 0, 0, 0
        for o in group:
            for t in o.truths:
                found = [m for m in o.matches if pair_hit(m, t)]
                if name == "two_sources":
                    top1 += bool(found) / len(o.truths)
                elif o.matches and truth_in(o.matches[0], t) is not None:
                    top1 += 1
                if not found:
                    continue
                m = found[0]
                start, end, query_start = truth_in(m, t)
                start_err.append(abs(m["source_start_s"] - (start + m["query_start_s"] - query_start)))
                end_err.append(abs(m["source_end_s"] - end))
                ious.append(iou((m["source_start_s"], m["source_end_s"]), (start, end)))
                if Path(t.path).name not in AUDIBLE:
                    pass
                elif o.audio_mode == "same":
                    audio_n += 1
                    audio_ok += bool(m["audio"] and m["audio"]["verified"])
                    if m["audio"] and m["audio"]["offset_s"] is not None:
                        agree_n += 1
                        visual = m["source_start_s"] - m["query_start_s"]
                        agree += abs(m["audio"]["offset_s"] - visual) <= 0.5
                elif o.audio_mode == "other":
                    audio_n += 1
                    audio_ok += bool(m["audio"] and m["audio"]["verified"])  # should stay 0
        rows[name] = {
            "queries": len(group),
            "top1": round(top1 / len(group), 3),
            "start_err_p50_s": round(statistics.median(start_err), 2) if start_err else None,
            "start_within_1s": round(sum(e <= 1 for e in start_err) / len(start_err), 3) if start_err else None,
            "end_err_p50_s": round(statistics.median(end_err), 2) if end_err else None,
            "iou_mean": round(statistics.mean(ious), 3) if ious else None,
            "audio_verified": round(audio_ok / audio_n, 3) if audio_n else None,
            "audio_offset_agrees": round(agree / agree_n, 3) if agree_n else None,
            "match_ms_p50": round(1000 * statistics.median(o.match_s for o in group)),
            "decode_ms_p50": round(1000 * statistics.median(o.decode_s for o in group)),
        }
    negatives = [o for o in outcomes if o.transform.startswith("negative")]
    positives = [o for o in outcomes if not o.transform.startswith("negative")]
    main = [o for o in positives if o.transform not in REPORT_APART]
    hits = [r for n, r in rows.items() if r["start_within_1s"] is not None]
    return {
        "transforms": rows,
        "top1_main": round(sum(rows[n]["top1"] * rows[n]["queries"] for n in rows if n not in REPORT_APART)
                           / max(1, len(main)), 3),
        "start_within_1s_all": round(
            sum(r["start_within_1s"] * r["queries"] for r in hits) / max(1, sum(r["queries"] for r in hits)), 3),
        "negatives": len(negatives),
        "negatives_matched": sum(bool(o.matches) for o in negatives),
        "negative_rate": round(sum(bool(o.matches) for o in negatives) / max(1, len(negatives)), 3),
        "micro_ap": round(micro_ap(outcomes), 3),
        "match_ms_p50": round(1000 * statistics.median(o.match_s for o in outcomes)),
        "match_ms_p95": round(1000 * float(np.percentile([o.match_s for o in outcomes], 95))),
    }


def print_table(summary: dict) -> None:
    cols = ["queries", "top1", "start_within_1s", "start_err_p50_s", "end_err_p50_s", "iou_mean",
            "audio_verified", "audio_offset_agrees", "match_ms_p50", "decode_ms_p50"]
    print("| transformation | " + " | ".join(cols) + " |")
    print("|---" * (len(cols) + 1) + "|")
    for name, row in summary["transforms"].items():
        cells = ["-" if row[c] is None else str(row[c]) for c in cols]
        print(f"| {name}{' *' if name in REPORT_APART else ''} | " + " | ".join(cells) + " |")
    print()
    print(f"top-1 over the main transformations: {summary['top1_main']}; "
          f"source start within 1 s of hits: {summary['start_within_1s_all']}")
    print(f"negatives matched: {summary['negatives_matched']} of {summary['negatives']} ({summary['negative_rate']})")
    print(f"micro-average precision: {summary['micro_ap']}")
    print(f"match latency (excluding decoding): p50 {summary['match_ms_p50']} ms, p95 {summary['match_ms_p95']} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("videos", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--held-out", type=int, default=4)
    parser.add_argument("--per-transform", type=int, default=8)
    parser.add_argument("--json", type=Path, help="write every query's outcome here")
    parser.add_argument("--clips", type=Path, help="keep the query clips here and reuse them on the next run")
    args = parser.parse_args()

    import ray

    from batch_jobs.index_videos import run_index
    from vidsearch.config import Settings
    from vidsearch.copy_index import CopyIndex
    from vidsearch.store import open_store

    videos = sorted(p for p in args.videos.iterdir() if p.is_file())
    SAME_CONTENT.update(same_content(videos, Settings().sampling.fps))
    for name, others in SAME_CONTENT.items():
        print(f"same content: {name} = {', '.join(f'{o} ({t:+.2f} s)' for o, t in others.items())}")
    # Negatives must be unlike everything indexed; a copy of an indexed video is no negative.
    rng = random.Random(args.seed)
    held_out = sorted(rng.sample([p for p in videos if p.name not in SAME_CONTENT], args.held_out))
    indexed = [p for p in videos if p not in held_out]
    with tempfile.TemporaryDirectory(prefix="vidsearch-match-eval-") as tmp:
        tmp = Path(tmp)
        library = tmp / "library"
        library.mkdir()
        for p in indexed:
            (library / p.name).symlink_to(p.resolve())
        settings = Settings(data_dir=tmp / "data", semantic={"enabled": False})
        ray.init(include_dashboard=False, log_to_driver=False, namespace="vidsearch")
        try:
            summary = run_index([str(library)], settings, show_progress=False)
        finally:
            ray.shutdown()
        print(f"indexed {summary.indexed} videos ({summary.frames} frames); held out: {', '.join(p.name for p in held_out)}")
        clips = args.clips or tmp / "clips"
        clips.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        queries = make_queries(sorted(library.iterdir()), held_out, args.per_transform, clips, args.seed)
        print(f"cut {len(queries)} query clips in {time.perf_counter() - started:.0f} s")
        store = open_store(settings)
        AUDIBLE.update(Path(r.path).name for r in store.list_videos() if r.audio == "fingerprinted")
        index = CopyIndex()
        index.sync(store)
        outcomes = [evaluate(store, index, q, settings.sampling.fps) for q in queries]
        store.close()
    result = summarise(outcomes)
    print_table(result)
    if args.json:
        args.json.write_text(json.dumps(
            {"summary": result, "queries": [asdict(o) | {"truths": [asdict(t) for t in o.truths]} for o in outcomes]},
            indent=1, default=str,
        ))


if __name__ == "__main__":
    main()
