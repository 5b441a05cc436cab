"""How often clip matching is right: accuracy, localisation and audio agreement on edited clips.

    python bench/match_eval.py VIDEO_DIR [--seed 0] [--held-out 4] [--per-transform 8]
                               [--categories reframing,overlays,...] [--threshold T | --fit]
                               [--json OUT] [--clips DIR]
    python bench/match_eval.py --from-json OUT [--threshold T | --fit] [--categories ...]

With a fixed seed: index all but `--held-out` videos of VIDEO_DIR (copy vectors and audio, through
the real index job), then cut query clips of 5-60 s (less where the source is shorter; sources under
6 s give none) at random offsets and put them through the edits of bench/edits.py, by category:
reframing (9:16, 1:1 and 4:5 crops, vertical frames filled with blur, colour or the picture
mirrored, coloured and blurred bars, uneven crops, zoom and rotation), overlays (caption bars,
subtitles, watermarks, stickers, a reaction inset), compositions (picture in picture, side by side,
stacked, an unindexed lead-in, two sources spliced), time (frame rates, speed 0.8-1.25, a short
loop), retimed_crops (9:16 and 15 % crops played at 0.8-1.25x), signal (re-encodes, downscaling,
colour, blur, noise, flips) and audio (re-encoded, quiet, band-passed, music beneath it, removed,
replaced); audio edits use only sources whose audio was fingerprinted. Clips of the held-out videos,
4 per edit's `--per-transform`, through random edits (except those that take a second source or
sound track), and two of each held-out video through each crop edit of WINDOW_NEGATIVES (crops and
zooms are where chance alignments come from; `--no-window-negatives` leaves them out) are the
negatives. Each query runs through the same in-process chain as the service's
/match (decode, candidates, alignment, audio verification), which records every prediction scoring
at least FLOOR (0.5).
`--clips DIR` keeps the clips in DIR/seed<S>-held-out<N> and reuses them on the next run.

A threshold T then decides which predictions count (`--threshold`, by default
alignment.MATCH_THRESHOLD). Per edit and per category it prints: top-1 source accuracy (a clip of
several segments counts the share of them found), source start/end error, segment IoU, speed
error (time and retimed_crops edits), audio verified rate (where the clip keeps its source's audio
and that audio is not silent; with replaced audio it should be 0), audio/visual offset agreement,
micro-average precision over the row's queries, latency per query; then top-1 over all positive
queries, false matches on negatives and the micro-average precision over all (query, source
segment) predictions, negatives' included, ranked by score, as the Video Similarity Challenge scores
matching. A truth played at speed v covers v seconds of source per clip second.

Calibrate on one corpus, report on another. `--fit` picks the T of 0.50..0.95 with the best top-1
over all positive queries among those that match at most 2 % of each kind of negative (random
edits, window negatives; of equals, the highest): a figure fitted on the corpus it is read on, not
a held-out one. `--json` keeps the outcomes, and `--from-json` reads them again at another T
without indexing or cutting anything:

    python bench/match_eval.py ../shared/media/videos --fit --json /tmp/shared.json
    python bench/match_eval.py ../shared/media/extra/videos --held-out 3 --fit --json /tmp/extra.json
    python bench/match_eval.py --from-json /tmp/extra.json --threshold T_FITTED_ON_SHARED
    python bench/match_eval.py --from-json /tmp/shared.json --threshold T_FITTED_ON_EXTRA

Reading at T what was recorded at FLOOR is close to, not the same as, matching at T: alignment
gives each clip second to the best run scoring at least its threshold, so a run that scores
under T may have taken seconds that a run above T would have had.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from vidsearch.results import Match
from edits import CATEGORIES, EDITS, MIN_CLIP_S, Cut, Edit, Truth, probe  # bench/, beside this

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

FLOOR = 0.5  # every prediction scoring this much is recorded: any T above it can be read later
FIT_GRID = [round(0.50 + 0.01 * i, 2) for i in range(46)]
MAX_NEGATIVE_RATE = 0.02
# The crop edits each held-out video is also cut through, two clips each (window negatives).
WINDOW_NEGATIVES = (
    "speed_vertical_9x16", "speed_crop_15pct", "vertical_9x16", "crop_15pct", "crop_4x5", "square_1x1",
)
WINDOW_NEGATIVE_PREFIX = "negcrop-"  # their clips' names, which tell them apart in saved outcomes


@dataclass
class Query:
    edit: str
    category: str
    file: Path
    truths: list[Truth]  # empty for a negative
    audio: str  # "same": the source's audio, re-encoded; "none"; "other": someone else's


def make_queries(
    edits: list[Edit],
    indexed: list[Path],
    held_out: list[Path],
    per_edit: int,
    out: Path,
    seed: int,
    audible: set[str],
    window_negatives: bool = True,
) -> list[Query]:
    """Clips of indexed sources through each edit, then clips of held-out videos (negatives)."""
    sources = [v for v in map(probe, indexed) if v.duration_s >= MIN_CLIP_S + 1]
    with_audio = [v for v in sources if v.path.name in audible]
    unindexed = [probe(p) for p in held_out]
    others = {
        "footage": unindexed,
        "sound": [v for v in unindexed if v.has_audio] or with_audio,
        "source": sources,
    }
    queries, skipped = [], {}
    for edit in edits:
        pool = with_audio if edit.needs_audio else sources
        if not pool:
            skipped[edit.name] = "no indexed source" + (" with audio" if edit.needs_audio else "")
            continue
        for n in range(per_edit):
            # One rng per clip: a cached clip stays right whatever else this run cuts.
            rng = random.Random(f"{seed}:{edit.name}:{n}")
            source = rng.choice(pool)
            other = None
            if edit.needs:
                choices = [v for v in others[edit.needs] if v.path.name != source.path.name]
                if not choices:
                    skipped[edit.name] = f"no {edit.needs} other than the source"
                    break
                other = rng.choice(choices)
            cut = Cut(source, out / f"{edit.name}-{n}.{edit.suffix}", rng, other)
            queries.append(Query(edit.name, edit.category, cut.out, edit.make(cut), edit.audio))
    for name, why in skipped.items():
        print(f"note: {name} skipped: {why}")
    # A second source or a sound track could bring indexed content into a negative.
    unmixed = [e for e in edits if e.needs not in ("source", "sound")]
    unmixed = unmixed or [e for e in EDITS.values() if e.needs not in ("source", "sound")]
    for n in range(per_edit * 4 if unindexed else 0):
        source = unindexed[n % len(unindexed)]
        rng = random.Random(f"{seed}:negative:{n}")
        edit = rng.choice(unmixed)
        other = (
            rng.choice([v for v in unindexed if v != source] or [source]) if edit.needs else None
        )
        cut = Cut(source, out / f"negative-{n}-{edit.name}.{edit.suffix}", rng, other)
        edit.make(cut)
        queries.append(Query(f"negative:{edit.name}", "negative", cut.out, [], edit.audio))
    # Windows (crops, zooms) are where chance alignments come from, and few random edits make a
    # clip narrower than its source: each held-out video is also cut through each crop edit.
    for source in unindexed if window_negatives else []:
        for name in WINDOW_NEGATIVES:
            for n in range(2):
                # Drawn per video, edit and n (the held-out videos themselves follow the seed).
                rng = random.Random(f"negcrop:{source.path.name}:{name}:{n}")
                cut = Cut(source, out / f"{WINDOW_NEGATIVE_PREFIX}{source.path.stem}-{name}-{n}.mp4", rng, None)
                EDITS[name].make(cut)
                queries.append(Query(f"negative:{name}", "negative", cut.out, [], "same"))
    return queries


@dataclass
class Outcome:
    edit: str
    category: str
    truths: list[Truth]
    matches: list[Match]  # every prediction scoring at least FLOOR, best first
    match_s: float  # candidates, alignment and audio: what the library's size drives
    decode_s: float
    audio_mode: str
    clip: str = ""


def evaluate(store, index, query: Query, fps: float, descriptor=None) -> Outcome:
    from vidsearch.clips import clip_fingerprint, clip_vectors
    from vidsearch.embedders.descriptors import DCT
    from vidsearch.matching import match_clip, verify_audio

    started = time.perf_counter()
    clip = clip_vectors(str(query.file), fps=fps, descriptor=descriptor or DCT)
    audio = clip_fingerprint(str(query.file), clip.metadata)
    decoded = time.perf_counter()
    matches = match_clip(store, index, clip, limit=5, threshold=FLOOR)
    matches = verify_audio(store, audio, matches, clip_path=str(query.file))
    return Outcome(
        edit=query.edit,
        category=query.category,
        truths=query.truths,
        matches=matches,
        match_s=time.perf_counter() - decoded,
        decode_s=decoded - started,
        audio_mode=query.audio,
        clip=str(query.file),
    )


def iou(a: tuple[float, float], b: tuple[float, float]) -> float:
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return inter / union if union > 0 else 0.0


# Corpora hold the same footage more than once (a 480p and a 720p encode of one film): finding
# either is right. {name: {same-content name: offset}}, where second t of `name` is second
# t + offset of the other; filled by `same_content`.
SAME_CONTENT: dict[str, dict[str, float]] = {}
# Sources whose audio was fingerprinted: silent or missing tracks can only ever be "unknown".
AUDIBLE: set[str] = set()


def same_content(videos: list[Path], fps: float) -> dict[str, dict[str, float]]:
    """Pairs of corpus videos that are copies of each other over at least half the shorter one,
    found by aligning every video, whole, against all the others."""
    from vidsearch.alignment import align_candidates
    from vidsearch.clips import clip_vectors

    vectors = {p.name: clip_vectors(str(p), fps=fps) for p in videos}
    found: dict[str, dict[str, float]] = {name: {} for name in vectors}
    for name, clip in vectors.items():
        others = {o: (v.copy, v.seconds) for o, v in vectors.items() if o != name}
        for other, seg in align_candidates(clip.copy, others):
            shorter = min(clip.metadata.duration_s, vectors[other].metadata.duration_s)
            if seg.query_end_s - seg.query_start_s >= 0.5 * shorter:
                offset = seg.source_start_s - seg.query_start_s
                found[name][other], found[other][name] = offset, -offset
    return {name: others for name, others in found.items() if others}


def truth_in(match: dict, truth: Truth) -> tuple[float, float, float] | None:
    """The true (source start, source end, query start) on the matched video's timeline, or None
    when the match names another source."""
    name, source = Path(match.path).name, Path(truth.path).name
    if name == source:
        shift = 0.0
    elif name in SAME_CONTENT.get(source, {}):
        shift = SAME_CONTENT[source][name]
    else:
        return None
    return truth.source_start_s + shift, truth.source_end_s + shift, truth.query_start_s


def pair_hit(match: dict, truth: Truth) -> bool:
    """The match names the truth's source and overlaps it in the source and in the query (a
    looped clip holds one source stretch at several query times)."""
    where = truth_in(match, truth)
    if where is None:
        return False
    source = iou((match.source_start_s, match.source_end_s), where[:2])
    query = iou((match.query_start_s, match.query_end_s), (where[2], truth.query_end_s))
    return source > 0 and query > 0


def found(o: Outcome) -> list[tuple[Truth, dict]]:
    """Each truth with the best-scored match that finds it; a match finds one truth at most."""
    ranked = sorted(o.matches, key=lambda m: -m.score)
    taken: set[int] = set()
    pairs = []
    for t in o.truths:
        i = next((i for i, m in enumerate(ranked) if i not in taken and pair_hit(m, t)), None)
        if i is not None:
            taken.add(i)
            pairs.append((t, ranked[i]))
    return pairs


def top1(o: Outcome, pairs: list[tuple[Truth, dict]]) -> float:
    """One truth: the best match names its source. Several: the share of them found."""
    if len(o.truths) > 1:
        return len(pairs) / len(o.truths)
    best = max(o.matches, key=lambda m: m.score, default=None)
    return float(best is not None and truth_in(best, o.truths[0]) is not None)


def micro_ap(outcomes: list[Outcome]) -> float:
    """Average precision over every (query, source segment) prediction of every query, pooled and
    ranked by score; a prediction is right when it overlaps a true segment of its source not yet
    claimed by a better-scored prediction."""
    predictions = [(m.score, i, m) for i, o in enumerate(outcomes) for m in o.matches]
    predictions.sort(key=lambda p: -p[0])
    total = sum(len(o.truths) for o in outcomes)
    claimed: set[tuple[int, int]] = set()
    hits, ap = 0, 0.0
    for rank, (_, i, m) in enumerate(predictions, 1):
        truths = enumerate(outcomes[i].truths)
        j = next((j for j, t in truths if (i, j) not in claimed and pair_hit(m, t)), None)
        if j is None:
            continue
        claimed.add((i, j))
        hits += 1
        ap += hits / rank
    return ap / total if total else 0.0


def above(outcomes: list[Outcome], threshold: float) -> list[Outcome]:
    """The outcomes as a run at `threshold` would report them."""
    return [replace(o, matches=[m for m in o.matches if m.score >= threshold]) for o in outcomes]


def _p50(values: list[float], digits: int = 2) -> float | None:
    return round(statistics.median(values), digits) if values else None


def _share(count: int, of: int) -> float | None:
    return round(count / of, 3) if of else None


def row(group: list[Outcome]) -> dict:
    top1s, start_err, end_err, ious, speed_err = [], [], [], [], []
    audio_ok, audio_n, agree, agree_n = 0, 0, 0, 0
    for o in group:
        pairs = found(o)
        top1s.append(top1(o, pairs))
        for t, m in pairs:
            start, end, query_start = truth_in(m, t)
            expected = start + (m.query_start_s - query_start) * t.speed
            start_err.append(abs(m.source_start_s - expected))
            end_err.append(abs(m.source_end_s - end))
            ious.append(iou((m.source_start_s, m.source_end_s), (start, end)))
            speed_err.append(abs(m.speed - t.speed))
            if Path(t.path).name not in AUDIBLE or o.audio_mode == "none":
                continue
            audio_n += 1
            audio_ok += bool(m.audio and m.audio.verified)  # "other": should stay 0
            if o.audio_mode == "same" and m.audio and m.audio.offset_s is not None:
                agree_n += 1
                # where the picture puts the clip's first second, as verify_audio reckons it
                visual = m.source_start_s - m.speed * m.query_start_s
                agree += abs(m.audio.offset_s - visual) <= 0.5
    timed = any(o.category in ("time", "retimed_crops") for o in group)
    return {
        "queries": len(group),
        "top1": round(statistics.mean(top1s), 3) if top1s else None,
        "start_within_1s": _share(sum(e <= 1 for e in start_err), len(start_err)),
        "start_err_p50_s": _p50(start_err),
        "end_err_p50_s": _p50(end_err),
        "iou_mean": round(statistics.mean(ious), 3) if ious else None,
        "speed_err_p50": _p50(speed_err, 3) if timed else None,
        "audio_verified": _share(audio_ok, audio_n),
        "audio_offset_agrees": _share(agree, agree_n),
        "micro_ap": round(micro_ap(group), 3),
        "match_ms_p50": round(1000 * statistics.median(o.match_s for o in group)),
        "decode_ms_p50": round(1000 * statistics.median(o.decode_s for o in group)),
    }


def headline(outcomes: list[Outcome], threshold: float) -> tuple[float, float]:
    """(top-1 over all positive queries, share of negatives matched) at `threshold`, the share of
    whichever kind of negative (random edits, window negatives) it matches most of: negatives of
    one kind that score low would otherwise make room for matches of the other."""
    kept = above(outcomes, threshold)
    positives = [o for o in kept if o.truths]
    kinds: dict[bool, list[Outcome]] = {}
    for o in kept:
        if not o.truths:
            kinds.setdefault(Path(o.clip).name.startswith(WINDOW_NEGATIVE_PREFIX), []).append(o)
    top = statistics.mean(top1(o, found(o)) for o in positives) if positives else 0.0
    return top, max((sum(bool(o.matches) for o in group) / len(group) for group in kinds.values()), default=0.0)


def fit(outcomes: list[Outcome]) -> tuple[float, list[tuple[float, float, float]]]:
    """The threshold of FIT_GRID with the best top-1 among those matching at most 2 % of each
    kind of negative (ties: the highest, the least likely to match a negative elsewhere), and the sweep.
    Where none keeps negatives that low, the one matching fewest."""
    sweep = [(t, *headline(outcomes, t)) for t in FIT_GRID]
    allowed = [s for s in sweep if s[2] <= MAX_NEGATIVE_RATE]
    if allowed:
        return max(allowed, key=lambda s: (s[1], s[0]))[0], sweep
    print(f"note: no threshold of {FIT_GRID[0]}..{FIT_GRID[-1]} matches at most 2 % of negatives")
    return min(sweep, key=lambda s: (s[2], -s[1], -s[0]))[0], sweep


def summarise(outcomes: list[Outcome], threshold: float) -> dict:
    kept = above(outcomes, threshold)
    positives = [o for o in kept if o.truths]
    negatives = [o for o in kept if not o.truths]
    edits = {}
    for name in dict.fromkeys(o.edit for o in positives):
        group = [o for o in positives if o.edit == name]
        edits[name] = {"category": group[0].category} | row(group)
    categories = {
        c: row([o for o in positives if o.category == c])
        for c in CATEGORIES
        if any(o.category == c for o in positives)
    }
    everything = row(positives) if positives else {}
    return {
        "threshold": threshold,
        "edits": edits,
        "categories": categories,
        "positives": len(positives),
        "top1_all": everything.get("top1"),
        "start_within_1s_all": everything.get("start_within_1s"),
        "negatives": len(negatives),
        "negatives_matched": sum(bool(o.matches) for o in negatives),
        "negative_rate": _share(sum(bool(o.matches) for o in negatives), len(negatives)),
        "micro_ap": round(micro_ap(kept), 3),
        "match_ms_p50": round(1000 * statistics.median(o.match_s for o in kept)),
        "match_ms_p95": round(1000 * float(np.percentile([o.match_s for o in kept], 95))),
    }


COLUMNS = [
    "queries",
    "top1",
    "start_within_1s",
    "start_err_p50_s",
    "end_err_p50_s",
    "iou_mean",
    "speed_err_p50",
    "audio_verified",
    "audio_offset_agrees",
    "micro_ap",
    "match_ms_p50",
    "decode_ms_p50",
]


def print_rows(title: str, rows: dict[str, dict], label=lambda name, row: name) -> None:
    print(f"| {title} | " + " | ".join(COLUMNS) + " |")
    print("|---" * (len(COLUMNS) + 1) + "|")
    for name, r in rows.items():
        cells = ["-" if r[c] is None else str(r[c]) for c in COLUMNS]
        print(f"| {label(name, r)} | " + " | ".join(cells) + " |")
    print()


def print_report(summary: dict, corpus: str, origin: str) -> None:
    print(f"\ncorpus: {corpus}")
    print(f"threshold: {summary['threshold']} ({origin})\n")
    print_rows("edit (category)", summary["edits"], lambda name, r: f"{name} ({r['category']})")
    print_rows("category", summary["categories"])
    print(
        f"top-1 over all {summary['positives']} positive queries: {summary['top1_all']}; "
        f"source start within 1 s of hits: {summary['start_within_1s_all']}"
    )
    print(
        f"negatives matched: {summary['negatives_matched']} of {summary['negatives']} "
        f"({summary['negative_rate']})"
    )
    print(f"micro-average precision, all predictions (negatives' included): {summary['micro_ap']}")
    print(
        f"match latency (excluding decoding): p50 {summary['match_ms_p50']} ms, "
        f"p95 {summary['match_ms_p95']} ms"
    )


def run_corpus(args: argparse.Namespace, edits: list[Edit]) -> tuple[list[Outcome], dict]:
    """Index the corpus but its held-out videos, cut the clips, match each: the outcomes, and
    what a later --from-json needs to read them again."""
    import ray

    from batch_jobs.index_videos import run_index
    from vidsearch.config import Settings
    from vidsearch.copy_index import CopyIndex
    from vidsearch.embedders.descriptors import load_descriptor
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
        print(
            f"indexed {summary.indexed} videos ({summary.frames} frames); "
            f"held out: {', '.join(p.name for p in held_out)}"
        )
        store = open_store(settings)
        AUDIBLE.update(Path(r.path).name for r in store.list_videos() if r.audio == "fingerprinted")
        # Which videos are indexed and held out follows the seed and --held-out: so do the clips.
        clips = (
            args.clips / f"seed{args.seed}-held-out{args.held_out}" if args.clips else tmp / "clips"
        )
        clips.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        queries = make_queries(
            edits,
            sorted(library.iterdir()),
            held_out,
            args.per_transform,
            clips,
            args.seed,
            AUDIBLE,
            not args.no_window_negatives,
        )
        print(f"cut {len(queries)} query clips in {time.perf_counter() - started:.0f} s")
        # VIDSEARCH_DESCRIPTOR__MODEL (and __DIM) evaluate a learned descriptor: fit its threshold
        # with --fit on one corpus and read it on the other, as the default's was.
        descriptor = load_descriptor(settings.descriptor)
        index = CopyIndex(store.copy_dim)
        index.sync(store)
        outcomes = [evaluate(store, index, q, settings.sampling.fps, descriptor) for q in queries]
        store.close()
    corpus = {
        "corpus": str(args.videos.resolve()),
        "seed": args.seed,
        "indexed": [p.name for p in indexed],
        "held_out": [p.name for p in held_out],
    }
    return outcomes, corpus


def load(path: Path) -> tuple[list[Outcome], dict]:
    saved = json.loads(path.read_text())
    SAME_CONTENT.update(saved["same_content"])
    AUDIBLE.update(saved["audible"])
    outcomes = [
        Outcome(**o | {"truths": [Truth(**t) for t in o["truths"]], "matches": [Match(**m) for m in o["matches"]]})
        for o in saved["outcomes"]
    ]
    keys = ("corpus", "seed", "indexed", "held_out", "floor")
    return outcomes, {k: saved[k] for k in keys}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("videos", type=Path, nargs="?", help="the corpus (not with --from-json)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--held-out", type=int, default=4)
    parser.add_argument("--per-transform", type=int, default=8, help="clips per edit")
    parser.add_argument("--categories", help=f"some of {','.join(CATEGORIES)} (default: all)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--threshold", type=float, help="default: alignment.MATCH_THRESHOLD")
    which.add_argument("--fit", action="store_true", help="fit the threshold on this corpus")
    parser.add_argument("--json", type=Path, help="write the outcomes and the summary here")
    parser.add_argument("--from-json", type=Path, help="summarise outcomes saved by --json")
    parser.add_argument("--clips", type=Path, help="keep the clips here; reuse them next run")
    parser.add_argument("--no-window-negatives", action="store_true",
                        help="negatives through random edits only, as before 2026-12-08")
    args = parser.parse_args()
    if (args.videos is None) == (args.from_json is None):
        parser.error("give either a video folder or --from-json")
    if args.threshold is not None and args.threshold < FLOOR:
        parser.error(f"outcomes hold the predictions scoring {FLOOR} or more only")
    categories = args.categories.split(",") if args.categories else list(CATEGORIES)
    if unknown := set(categories) - set(CATEGORIES):
        parser.error(f"unknown categories {sorted(unknown)}: choose from {', '.join(CATEGORIES)}")

    if args.from_json:
        outcomes, corpus = load(args.from_json)
        outcomes = [o for o in outcomes if not o.truths or o.category in categories]
        where = f"{corpus['corpus']} (outcomes read from {args.from_json})"
    else:
        outcomes, corpus = run_corpus(args, [e for e in EDITS.values() if e.category in categories])
        corpus["floor"] = FLOOR
        where = corpus["corpus"]
    where += f"; {len(corpus['indexed'])} indexed, held out: {', '.join(corpus['held_out'])}"

    if args.fit:
        threshold, sweep = fit(outcomes)
        origin = "fitted on this corpus: not a held-out figure"
    elif args.threshold is not None:
        threshold, origin = args.threshold, "given"
    else:
        from vidsearch.alignment import MATCH_THRESHOLD

        threshold, origin = MATCH_THRESHOLD, "default: vidsearch.alignment.MATCH_THRESHOLD"
    summary = summarise(outcomes, threshold)
    print_report(summary, where, origin)
    if args.fit:
        print("\nthreshold sweep (top-1 over all positives, negatives matched):")
        for t, top, negatives in sweep[::5]:
            print(f"  {t:.2f}: {top:.3f}, {negatives:.3f}{'  <- fitted' if t == threshold else ''}")
        if threshold not in [s[0] for s in sweep[::5]]:
            top, negatives = headline(outcomes, threshold)
            print(f"  fitted {threshold:.2f}: {top:.3f}, {negatives:.3f}")
    if args.json:
        saved = corpus | {
            "same_content": SAME_CONTENT,
            "audible": sorted(AUDIBLE),
            "threshold_origin": origin,
            "summary": summary,
            "outcomes": [asdict(o) | {"matches": [m.model_dump() for m in o.matches]} for o in outcomes],
        }
        args.json.write_text(json.dumps(saved, indent=1, default=str))


if __name__ == "__main__":
    main()
