"""Temporal alignment: which source video a query clip was cut from, and where in it.

The inputs are frame vectors sampled at the same rate (`fps`, 1 by default) from the query and
from each candidate source: copy descriptors (vidsearch.embedders.copy), unit length. Query frame
i is at i / fps in the clip unless its times are given; source frames may carry theirs. A copied
clip is a diagonal in the similarity matrix Q @ S.T: query frame i looks like source frame
i + offset. Single frames prove nothing (many frames look alike), so only runs along a diagonal
count.

Method
1. Vote (Hough). A clip played at speed v (source seconds per clip second, 0.8-1.25) is a line
   j = offset + v * i; each speed of `speeds` is voted on apart. Each query frame votes for the
   offsets j - v * i of its `top_k` most similar source frames above `vote_floor`, weighted by
   similarity and by how informative the frame is: one that is about as close to many source
   frames as to its best shares a single vote among them, one whose similarity is high
   everywhere is damped, and one close to a null vector (the copy descriptor of a flat picture:
   black, fades) does not vote. The histogram is smoothed by +-1
   and its `max_peaks` strongest offsets are walked (fewer at speeds other than 1).
2. Walk. Along a line each query frame takes the best of the source frames next to it, as
   frame rates and sampling phase differ. A run goes on while frames reach `weak` (0.4), across
   gaps of at most `max_gap` (2) frames, and counts if at least `min_frames` (3) of its frames
   reach `strong` (0.85); it spans its first to its last strong frame. Null frames are skipped.
3. Score. The mean similarity of the run's frames that reach `weak`, times L / (L + 1) for L
   such frames: three matching frames score 0.75 of their similarity, twenty 0.95.
4. Resolve. Over all candidates at once, greedily: the run with the most evidence (sum of its
   similarities) among those scoring at least the threshold takes its query frames; the other
   runs are cut back to the frames still free and scored again. So a clip cut from A then B gives
   an A segment and a B segment, and one query second never goes to two sources. Runs of one
   source on one diagonal with a short free gap between them are then joined.
5. Time. A segment's speed is the exact line (speeds 0.01 apart) that best explains its frames,
   speed 1 unless another is clearly better; where the clip was also sampled densely (4 fps, a
   short clip), `refine_speed` reads it again from where the dense clip shows each source frame.
   Segments end where the clip does.

Threshold
`MATCH_THRESHOLD` = 0.71: below it nothing is reported. It was first set at 0.70, calibrated on
the shared real-video corpus (20 videos) with the cases of tests/unit/test_alignment.py and a sweep of 144 clips of
4-20 s cut at random from every corpus video and re-encoded seven ways (240p CRF 32, 180p CRF 38,
letterbox, brightness/contrast, gamma/saturation, 30 fps, 10 % crop).
- Negatives: of 11,264 (clip or source window, unrelated video) pairs, 3 formed a run at all,
  scoring at most 0.665 (Big Buck Bunny's sky against the green-screen talk: three frames at
  0.88-0.89). The test's negatives (five clips from videos outside the library) form no run.
- Positives: the test's clips score 0.74 (20 s of fast battle footage, four re-encodings) to
  0.89; 142 of the 144 sweep clips are found, each with the right source within 1 s and no
  other source, scoring 0.74 or more. Missed: a 10 % crop of a 5 s clip (0.68) and a 5 s clip
  of a low-contrast, nearly still car park whose frames never reach `strong`.

`bench/match_eval.py --fit` now fits it over 48 kinds of edit on the shared corpus (0.71) and reads
it on the extra corpus (docs/benchmarks.md).

Limits: at 1 fps the query's samples fall up to 0.5 s from the source's, so fast motion lowers
per-frame similarity (a 12 s clip of the battle's fastest part scores 0.64, under threshold);
sampling sources and queries at a higher fps is the remedy where that matters. A clip of one
unchanging picture is found in its source, but where within the still stretch is arbitrary.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field, replace

import numpy as np

log = logging.getLogger(__name__)

# Fitted on the shared corpus (`bench/match_eval.py --fit`: the best top-1 matching at most 2 % of
# negatives; 0.70 matched 2 of 32) and read on the extra corpus (docs/benchmarks.md).
MATCH_THRESHOLD = 0.71


@dataclass(frozen=True)
class Segment:
    """A stretch of the query found in a source; seconds, ends exclusive."""

    query_start_s: float
    query_end_s: float
    source_start_s: float
    source_end_s: float
    score: float
    matched_frames: int
    speed: float = 1.0  # source seconds per query second: 1.25 for a clip sped up by a quarter


# Speeds a re-upload is played at (source seconds per clip second), walked as lines of that slope
# through the similarity matrix. 0.05 apart: over a 40 s clip a line off by half a step drifts one
# frame, which the walk's one-frame jitter absorbs.
SPEEDS = (1.0, 0.8, 0.85, 0.9, 0.95, 1.05, 1.1, 1.15, 1.2, 1.25)


@dataclass(frozen=True)
class AlignParams:
    """Knobs of the alignment. Similarities are cosines of unit vectors; lengths are frames."""

    top_k: int = 5  # source frames each query frame votes for
    vote_floor: float = 0.5  # a pair less similar than this casts no vote
    tie_margin: float = 0.05  # source frames this close to a row's best are as good to it
    contrast_scale: float = 0.3  # best minus median similarity at which a frame votes fully
    max_peaks: int = 8  # offsets walked per source at speed 1
    speeds: tuple[float, ...] = SPEEDS  # the first is walked first and wins ties
    max_peaks_other_speeds: int = 2  # offsets walked per source at each other speed
    other_speed_weight: float = 0.8  # evidence a run off speed 1 counts for (see _weight)
    strong: float = 0.85  # a frame this similar is evidence of a copy
    weak: float = 0.4  # a frame this similar continues a run (motion, sampling phase)
    max_gap: int = 2  # frames below `weak` tolerated inside a run
    min_frames: int = 3  # strong frames a run needs: one similar frame is never a match
    length_prior: float = 1.0  # frames; the length factor is L / (L + length_prior)
    null_sim: float = 0.95  # a query frame this close to a null vector carries no information
    max_merge_gap: int = 5  # unrecognised frames bridged between two runs on one diagonal
    # A frame that another line explains strongly, and better by this much, ends a run: so a line
    # that loosely follows a looped clip through its jumps gives way to each repetition's own.
    contest: float = 0.15
    # A stretch of a source already found, seen again elsewhere in the clip (a loop, a replay),
    # counts at this share of the threshold: its source is no longer a chance of the search.
    repeat_share: float = 0.85


DEFAULT_PARAMS = AlignParams()


@functools.cache
def flat_frame_vector() -> np.ndarray:
    """The copy descriptor of a picture without structure (black, any uniform colour)."""
    from vidsearch.embedders.copy import GRID, copy_descriptor

    return copy_descriptor(np.zeros((GRID, GRID, 3), dtype=np.uint8))


def default_null_vectors(dim: int) -> np.ndarray:
    """Vectors that say nothing about where a frame comes from: for copy descriptors, the one
    every flat frame gets (fades to black are in many videos); none for other embeddings."""
    flat = flat_frame_vector()
    return flat[None, :] if flat.shape[0] == dim else np.zeros((0, dim), dtype=np.float32)


def informative_frames(
    query: np.ndarray, null_vectors: np.ndarray, params: AlignParams = DEFAULT_PARAMS
) -> np.ndarray:
    """False for the query frames that match a null vector."""
    if len(null_vectors) == 0 or len(query) == 0:
        return np.ones(len(query), dtype=bool)
    return (query @ np.asarray(null_vectors, dtype=np.float32).T).max(axis=1) < params.null_sim


def vote_weights(sim: np.ndarray, params: AlignParams = DEFAULT_PARAMS) -> np.ndarray:
    """How much each query frame may say about the offset, in [0, 1].

    A frame about as similar to many source frames as to its best one (a static shot, a black
    screen) does not know where it is: it shares one vote among all of them. A frame whose
    similarity is high everywhere (median close to its best) is damped further, though never
    to nothing: a source that is one still shot must still get an offset to walk.
    """
    best = sim.max(axis=1)
    equally_good = sim >= np.maximum(params.vote_floor, best - params.tie_margin)[:, None]
    ties = np.count_nonzero(equally_good, axis=1)
    contrast = np.clip((best - np.median(sim, axis=1)) / params.contrast_scale, 0.05, 1.0)
    return contrast / np.maximum(ties, 1)


def top_votes(sim: np.ndarray, weights: np.ndarray, params: AlignParams = DEFAULT_PARAMS) -> tuple[np.ndarray, np.ndarray]:
    """(source index, vote) of each query frame's top_k source frames (m x k each): a frame votes
    for those that pass vote_floor, in proportion to similarity times its weight."""
    k = min(params.top_k, sim.shape[1])
    top = np.argpartition(-sim, k - 1, axis=1)[:, :k]
    vals = np.take_along_axis(sim, top, axis=1)
    return top, np.where(vals >= params.vote_floor, vals, 0.0) * weights[:, None]


def vote_offsets(top: np.ndarray, votes: np.ndarray, n: int, speed: float = 1.0) -> np.ndarray:
    """Hough votes per offset of the line j = offset + speed * i (source index j, query index i)
    from `top_votes`; entry k is offset k - shift(m, speed), see `_shift`."""
    m = len(top)
    offsets = top - np.rint(speed * np.arange(m))[:, None].astype(int) + _shift(m, speed)
    return np.bincount(offsets.ravel(), weights=votes.ravel(), minlength=n + _shift(m, speed))


def _shift(m: int, speed: float) -> int:
    """How far below zero an offset can be: the line starts left of the source."""
    return int(np.rint(speed * (m - 1)))


def peak_offsets(votes: np.ndarray, m: int, params: AlignParams = DEFAULT_PARAMS, speed: float = 1.0,
                 most: int | None = None) -> list[int]:
    """The strongest offsets of the vote histogram smoothed by +-1, more than 2 apart.

    Sampling phase and frame-rate changes spread a clip's votes over two neighbouring offsets,
    hence the smoothing; each peak is then moved to the raw maximum next to it, because the
    walk looks only one frame either side of the offset it is given.
    """
    most = params.max_peaks if most is None else most
    smooth = np.convolve(votes, np.ones(3))[1:-1]  # "same" would pad histograms shorter than 3
    peaks: list[int] = []
    for k in np.argsort(-smooth, kind="stable"):
        if smooth[k] <= 0 or len(peaks) >= most:
            break
        lo = max(int(k) - 1, 0)
        centre = lo + int(np.argmax(votes[lo : k + 2]))
        if all(abs(centre - p) > 2 for p in peaks):
            peaks.append(centre)
    return [p - _shift(m, speed) for p in peaks]


@dataclass(frozen=True)
class _Diagonal:
    """Per query frame, the best similarity near one line j = offset + speed * i; NaN where off
    the source. Speed 1 is a diagonal of the similarity matrix."""

    offset: int
    sims: np.ndarray  # (m,) float
    source_index: np.ndarray  # (m,) int, the source frame that gave it, -1 off the source
    speed: float = 1.0
    sim: np.ndarray | None = field(default=None, repr=False, compare=False)  # the whole m x n matrix


def walk_diagonal(sim: np.ndarray, offset: int, speed: float = 1.0) -> _Diagonal:
    """The best of source frames j-1 .. j+1 around j = offset + speed * i for every query frame i."""
    m, n = sim.shape
    rows = np.arange(m)
    line = offset + np.rint(speed * rows).astype(int)
    sims = np.full(m, np.nan)
    source_index = np.full(m, -1)
    for jitter in (0, -1, 1):  # 0 first, so that ties stay on the line
        cols = line + jitter
        inside = (cols >= 0) & (cols < n)
        vals = np.full(m, -np.inf)
        vals[inside] = sim[rows[inside], cols[inside]]
        better = inside & ~(vals <= sims)  # NaN compares False: a first value always wins
        sims[better] = vals[better]
        source_index[better] = cols[better]
    return _Diagonal(offset, sims, source_index, speed, sim)


def find_runs(
    sims: np.ndarray, informative: np.ndarray, params: AlignParams = DEFAULT_PARAMS
) -> list[tuple[int, int]]:
    """Stretches (first, last) of query frames along a diagonal that look like a copy.

    A run goes on while frames reach `weak`, across gaps of at most max_gap frames below it,
    and counts if it holds min_frames frames that reach `strong`; it is reported from its first
    to its last strong frame, since weak frames at its ends may as well belong to a neighbouring
    piece of the clip. NaN (off the source, or given to another segment) ends a run;
    uninformative frames neither extend nor break one.
    """
    runs: list[tuple[int, int]] = []
    first = last = None  # strong frames
    running = False
    gap = strong = 0
    for i, s in enumerate(sims):
        gap_too_long = running and s < params.weak and informative[i] and gap == params.max_gap
        if np.isnan(s) or gap_too_long:
            if strong >= params.min_frames:
                runs.append((first, last))
            first = last = None
            running = False
            gap = strong = 0
        elif not informative[i]:
            continue
        elif s >= params.weak:
            running, gap = True, 0
            if s >= params.strong:
                first = i if first is None else first
                last = i
                strong += 1
        elif running:
            gap += 1
    if strong >= params.min_frames:
        runs.append((first, last))
    return runs


def score_run(sims: np.ndarray, params: AlignParams = DEFAULT_PARAMS) -> tuple[float, int]:
    """(score, matched frames): the mean similarity of the frames that reach `weak`, times
    L / (L + length_prior) for L such frames, so three similar frames score below twenty."""
    matched = sims[sims >= params.weak]
    n = len(matched)
    if n == 0:
        return 0.0, 0
    return float(matched.mean()) * n / (n + params.length_prior), n


@dataclass(frozen=True)
class _Run:
    key: Hashable
    diagonal: _Diagonal
    first: int
    last: int
    score: float
    matched_frames: int
    evidence: float  # sum of the matched similarities


def _make_run(
    key: Hashable,
    diag: _Diagonal,
    first: int,
    last: int,
    informative: np.ndarray,
    params: AlignParams,
) -> _Run:
    sims = diag.sims[first : last + 1][informative[first : last + 1]]
    score, matched = score_run(sims, params)
    evidence = float(np.sum(sims[sims >= params.weak]))
    return _Run(key, diag, first, last, score, matched, evidence)


def _best_run(
    diagonals: list[tuple[Hashable, _Diagonal]],
    informative: np.ndarray,
    taken: np.ndarray,
    threshold: float,
    params: AlignParams,
    accept=None,
) -> _Run | None:
    """The run that explains most of the free query frames among those scoring >= threshold
    (and that `accept`, if given, takes).

    Ranking by evidence rather than by mean similarity matters where the clip holds a still
    stretch: a still picture matches every diagonal through the source's same still stretch
    at about 1.0, and only the true diagonal also explains the moving frames around it. A frame
    that another line explains strongly, and better by `contest`, ends this one's run.
    """
    if not diagonals:
        return None
    free = [np.where(taken, np.nan, diag.sims) for _, diag in diagonals]
    lead = np.fmax.reduce(free, axis=0)  # per frame, the best any line gives (NaN where none)
    contested = lead >= params.strong  # only strong evidence elsewhere takes a frame from a line
    best: _Run | None = None
    for (key, diag), sims in zip(diagonals, free):
        sims = np.where(contested & (sims < lead - params.contest), np.nan, sims)  # the run ends there
        for first, last in find_runs(sims, informative, params):
            run = _make_run(key, replace(diag, sims=sims), first, last, informative, params)
            if run.score >= threshold and (accept is None or accept(run)) and (
                best is None or _weight(run, params) > _weight(best, params)
            ):
                best = replace(run, diagonal=diag)
    return best


def _repeats(run: _Run, of: _Run) -> bool:
    """Whether `run` shows mostly source frames that `of` showed: the same stretch, elsewhere in the clip."""
    if run.key != of.key:
        return False
    span = run.diagonal.source_index[run.first : run.last + 1]
    lo, hi = of.diagonal.source_index[of.first], of.diagonal.source_index[of.last]
    return np.mean((span >= lo - 1) & (span <= hi + 1)) >= 0.5


def _weight(run: _Run, params: AlignParams) -> float:
    """A run's evidence as the greedy loop ranks it: each matched frame counts for how far its
    similarity rises above `weak`, so that a line explaining frames well beats a neighbouring
    one explaining them loosely (the diagonal beside a sped-up clip's line still passes near its
    frames); and runs off speed 1 are discounted, since most clips play at their source's speed
    and a line of another slope through a still shot or a loop finds frames by chance."""
    excess = run.evidence - params.weak * run.matched_frames
    return excess * (1.0 if run.diagonal.speed == params.speeds[0] else params.other_speed_weight)


def _merge_collinear(
    runs: list[_Run], informative: np.ndarray, threshold: float, params: AlignParams
) -> list[_Run]:
    """Join runs of one source on one diagonal whose query gap is short and given to no other
    run: the copy went on through frames too blurred or too fast to be recognised."""
    merged: list[_Run] = []
    for run in sorted(runs, key=lambda r: r.first):
        prev = merged[-1] if merged else None
        if (
            prev is not None
            and prev.key == run.key
            and prev.diagonal.speed == run.diagonal.speed
            and abs(prev.diagonal.offset - run.diagonal.offset) <= 1
            and run.first - prev.last - 1 <= params.max_merge_gap
        ):
            diag = prev.diagonal if prev.evidence >= run.evidence else run.diagonal
            joined = _make_run(run.key, diag, prev.first, run.last, informative, params)
            if joined.score >= threshold:
                merged[-1] = joined
                continue
        merged.append(run)
    return merged


def resolve(
    diagonals: list[tuple[Hashable, _Diagonal]],
    informative: np.ndarray,
    threshold: float,
    params: AlignParams = DEFAULT_PARAMS,
) -> list[_Run]:
    """Each query frame goes to at most one run: greedily, the run with the most evidence takes
    its frames, and the others are cut back to the frames still free and scored again.
    Returned best score first."""
    taken = np.zeros(len(informative), dtype=bool)
    chosen: list[_Run] = []
    while (best := _best_run(diagonals, informative, taken, threshold, params)) is not None:
        chosen.append(best)
        taken[best.first : best.last + 1] = True
    # Then the stretches found, again: each at another place of the clip (a loop, a replay).
    found = list(chosen)
    again = [(key, d) for key, d in diagonals if any(r.key == key for r in found)]
    while (best := _best_run(again, informative, taken, threshold * params.repeat_share, params,
                             accept=lambda run: any(_repeats(run, r) for r in found))) is not None:
        chosen.append(best)
        taken[best.first : best.last + 1] = True
    merged = _merge_collinear(chosen, informative, threshold, params)
    return sorted(merged, key=lambda r: -r.score)


def _to_segment(run: _Run, seconds: np.ndarray, query_seconds: np.ndarray, fps: float, params: AlignParams,
                query_end_s: float | None = None) -> Segment:
    diag, rows = run.diagonal, np.arange(run.first, run.last + 1)
    matched = rows[diag.sims[rows] >= params.weak]
    speed, start, last = _line_through(diag, matched, run.first, run.last)
    index = np.arange(len(seconds), dtype=np.float64)
    source_start = float(np.interp(start, index, seconds))
    source_last = float(np.interp(last, index, seconds))
    # The last frame stands for 1 / fps of the clip, or for what is left of it.
    last_s = float(query_seconds[run.last])
    shown = 1 / fps if query_end_s is None or query_end_s <= last_s else min(1 / fps, query_end_s - last_s)
    return Segment(
        query_start_s=float(query_seconds[run.first]),
        query_end_s=round(last_s + shown, 3),
        source_start_s=round(source_start, 3),
        source_end_s=round(source_last + speed * shown, 3),
        score=round(run.score, 4),
        matched_frames=run.matched_frames,
        speed=speed,
    )


FINE_SPEEDS = np.round(np.arange(0.75, 1.301, 0.01), 2)
PHASES = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])  # source frames either side of the walked line
SPEED_MARGIN = 0.02  # mean similarity another speed must add over speed 1 to be reported


def _line_through(diag: _Diagonal, matched: np.ndarray, first: int, last: int) -> tuple[float, float, float]:
    """(speed, source index at query frame `first`, at `last`) of the line that best explains
    the run's matched frames.

    The walk's one-frame jitter lets neighbouring speeds explain a short clip alike, and its
    sub-frame phase is unknown; here exact lines (no jitter) through the run's middle are
    scored for speeds 0.01 apart and half-frame phases, by mean similarity. Speed 1 stands
    unless another explains the frames better by SPEED_MARGIN and by more than chance: over a
    still shot every speed fits."""
    if diag.sim is None or len(matched) < 2:
        start = diag.offset + diag.speed * first
        return diag.speed, float(start), float(start + diag.speed * (last - first))
    centre = int(matched[len(matched) // 2])
    anchor = float(diag.source_index[centre])
    n = diag.sim.shape[1]
    lines = anchor + PHASES[None, :, None] + FINE_SPEEDS[:, None, None] * (matched - centre)[None, None, :]
    cols = np.rint(lines).astype(int)
    inside = (cols >= 0) & (cols < n)
    sims = np.where(inside, diag.sim[matched[None, None, :], np.clip(cols, 0, n - 1)], -1.0)
    means = sims.mean(axis=2)  # (speeds, phases)
    best_speed, best_phase = np.unravel_index(int(np.argmax(means)), means.shape)
    unit = int(np.argmin(np.abs(FINE_SPEEDS - 1.0)))
    unit_phase = int(np.argmax(means[unit]))
    # Another speed must explain the frames better, and consistently: by SPEED_MARGIN on average
    # and by more than chance (two standard errors of the frame-by-frame gain).
    gain = sims[best_speed, best_phase] - sims[unit, unit_phase]
    noise = 2 * gain.std() / np.sqrt(len(gain))
    if gain.mean() < max(SPEED_MARGIN, noise):
        best_speed, best_phase = unit, unit_phase
    speed = float(FINE_SPEEDS[best_speed])
    at_centre = anchor + PHASES[best_phase]
    return speed, at_centre + speed * (first - centre), at_centre + speed * (last - centre)


# Reading speed from a densely sampled clip (refine_speed). Fitted on clips of the shared corpus
# (docs/benchmarks.md, "Speed from dense clip frames").
EVENT_TIE = 0.01  # clip frames this close to a source frame's best likeness are as like it
EVENT_WIDTH_S = 1.0  # a source frame as like a longer stretch of the clip than this is not placed
EVENT_PROMINENCE = 0.01  # its best must beat every clip frame a second or more away by this much
EVENT_EDGE_S = 0.5  # nor one whose likeness peaks this close to the segment's ends (below)
EVENT_SPAN_S = 2.0  # source seconds the placed frames must span for a speed to be read
SPEED_GAIN_S = 0.05  # mean deviation (clip seconds) another speed must take off the segment's own
SPEED_GAIN_SHARE = 0.6  # and the most of it that it may leave


def refine_speed(segment: Segment, fine_seconds: np.ndarray, fine_vectors: np.ndarray, source_seconds: np.ndarray,
                 source_vectors: np.ndarray, params: AlignParams = DEFAULT_PARAMS, strict: bool = False) -> Segment:
    """The segment's speed and source span read again from the clip sampled densely (`fine_*`,
    4 fps say) against the source's frames at the index's rate.

    At 1 fps a clip of 5-10 s is 5-10 frames, which neighbouring speeds explain alike. Sampled
    densely, the clip says when it shows each source frame: one where the picture changes (a
    motion, a cut) is like one short stretch of the clip only, and is placed at the dense frame
    most like it, interpolated. Placed frames at source times s and clip times t lie on the line
    t = a + s / v. The speed 0.75-1.30 that fits them best (least weighted mean absolute deviation,
    each frame weighted by how much its place stands out) replaces the segment's where it takes
    SPEED_GAIN_S off the deviation and leaves at most SPEED_GAIN_SHARE of it; the source span then
    follows the line. Too few placed frames to read a speed (a still shot) leave the speed as it
    was, and those in the segment's first half pin where it starts.

    `strict`, for frames placed through a window (which compares fewer coefficients): no speed
    whose fit is best at either end of the range is read, since frames that fit no speed of it run
    off to its ends; and the segment is left as it was unless another speed is read, since a
    window's few placed frames move a start as often away from the truth as towards it.
    """
    source_seconds = np.asarray(source_seconds, dtype=np.float64)
    s, t, w = _placed_frames(segment, np.asarray(fine_seconds, dtype=np.float64), _as_vectors(fine_vectors),
                             source_seconds, _as_vectors(source_vectors), params)
    speed = segment.speed
    if len(s) >= 2 and s.max() - s.min() >= EVENT_SPAN_S:
        deviations = [_deviation(s, t, w, v) for v in FINE_SPEEDS]
        best = int(np.argmin(deviations))
        own = _deviation(s, t, w, speed)
        read = not strict or 0 < best < len(FINE_SPEEDS) - 1
        if read and own - deviations[best] >= SPEED_GAIN_S and deviations[best] <= SPEED_GAIN_SHARE * own:
            speed = float(FINE_SPEEDS[best])
    else:
        # The speed is the alignment's, which may be off by a fifth: carried back from a frame
        # placed late in the segment, that error would move its start further than the
        # alignment's line (drawn through the segment's middle) does.
        early = t - segment.query_start_s <= (segment.query_end_s - segment.query_start_s) / 2
        s, t, w = s[early], t[early], w[early]
    if not len(s) or strict and speed == segment.speed:
        return segment
    a = _weighted_median(t - s / speed, w)
    # The line may run past the source's ends (a clip that starts before it); its span does not.
    step = float(np.median(np.diff(source_seconds))) if len(source_seconds) > 1 else 1.0
    first, end = float(source_seconds.min()), float(source_seconds.max()) + step
    start, stop = np.clip(speed * (np.array([segment.query_start_s, segment.query_end_s]) - a), first, end)
    return replace(segment, speed=speed, source_start_s=round(float(start), 3), source_end_s=round(float(stop), 3))


def _placed_frames(segment: Segment, fine_seconds: np.ndarray, fine: np.ndarray, source_seconds: np.ndarray,
                   source: np.ndarray, params: AlignParams) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(source times, clip times, weights) of the segment's source frames that one short stretch
    of the dense clip is like: each at its likeliest clip time, weighted by how far its likeness
    there stands above the rest of the clip's, a second or more away."""
    none = (np.zeros(0),) * 3
    inside = (fine_seconds >= segment.query_start_s - 0.3) & (fine_seconds <= segment.query_end_s + 0.3)
    near = (source_seconds >= segment.source_start_s - 1.5) & (source_seconds <= segment.source_end_s + 1.5)
    times, s = fine_seconds[inside], source_seconds[near]
    if len(times) < 3 or not len(s):
        return none
    floor = params.strong - 0.1  # a copied frame's likeness, less what re-encoding takes off it
    placed = []
    for j, row in enumerate(source[near] @ fine[inside].T):
        k = int(np.argmax(row))
        ties = np.flatnonzero(row >= row[k] - EVENT_TIE)
        far = np.abs(times - times[k]) >= 1.0
        # A peak near the clip's edge may be a source frame beyond it, seen as the nearest the clip has.
        edge = min(times[ties[0]] - times[0], times[-1] - times[ties[-1]]) < EVENT_EDGE_S
        if row[k] < floor or edge or not far.any():
            continue
        if times[ties[-1]] - times[ties[0]] > EVENT_WIDTH_S or row[k] - row[far].max() < EVENT_PROMINENCE:
            continue
        at = times[ties].mean()
        if len(ties) == 1:  # between the dense frames, where a parabola through three peaks
            y0, y1, y2 = row[k - 1 : k + 2]
            bend = y0 - 2 * y1 + y2
            at += float(np.clip(0.5 * (y0 - y2) / bend, -0.5, 0.5)) * (times[k + 1] - times[k]) if bend < 0 else 0.0
        placed.append((s[j], at, row[k] - row[far].max()))
    return tuple(np.array(c, dtype=np.float64) for c in zip(*placed)) if placed else none


def _weighted_median(x: np.ndarray, w: np.ndarray) -> float:
    order = np.argsort(x)
    total = np.cumsum(w[order])
    return float(x[order][np.searchsorted(total, total[-1] / 2)])


def _deviation(s: np.ndarray, t: np.ndarray, w: np.ndarray, speed: float) -> float:
    """Weighted mean absolute deviation, in clip seconds, of placed frames from the best line of
    slope 1 / speed through them."""
    r = t - s / speed
    return float(np.sum(w * np.abs(r - _weighted_median(r, w))) / w.sum())


def _source_seconds(seconds: np.ndarray | None, n: int, fps: float) -> np.ndarray:
    """Frame times: the given ones, or frame i at i / fps."""
    if seconds is None:
        return np.arange(n, dtype=np.float64) / fps
    seconds = np.asarray(seconds, dtype=np.float64)
    if seconds.shape != (n,):
        raise ValueError(f"frame seconds have shape {seconds.shape}, expected ({n},)")
    return seconds


def _diagonals(
    query: np.ndarray, source: np.ndarray, informative: np.ndarray, params: AlignParams
) -> list[_Diagonal]:
    sim = query @ source.T
    top, top_vote = top_votes(sim, vote_weights(sim, params) * informative, params)
    walks = []
    for i, speed in enumerate(params.speeds):
        votes = vote_offsets(top, top_vote, sim.shape[1], speed)
        most = params.max_peaks if i == 0 else params.max_peaks_other_speeds
        walks += [walk_diagonal(sim, o, speed) for o in peak_offsets(votes, len(query), params, speed, most)]
    # A diagonal without min_frames strong frames can hold no run: drop it before the greedy
    # loop, which visits every diagonal of every candidate once per segment found.
    strong = [np.count_nonzero((w.sims >= params.strong) & informative) for w in walks]
    return [w for w, count in zip(walks, strong) if count >= params.min_frames]


def _as_vectors(x: np.ndarray) -> np.ndarray:
    return np.atleast_2d(np.asarray(x, dtype=np.float32))


def align_candidates(
    query: np.ndarray,
    candidates: Mapping[Hashable, tuple[np.ndarray, np.ndarray | None]],
    *,
    fps: float = 1.0,
    query_seconds: np.ndarray | None = None,
    threshold: float = MATCH_THRESHOLD,
    null_vectors: np.ndarray | None = None,
    params: AlignParams = DEFAULT_PARAMS,
    query_end_s: float | None = None,
) -> list[tuple[Hashable, Segment]]:
    """Align the query (m x d) with every candidate {video_id: (vectors n x d, seconds or
    None)} and give each query second to at most one (video, segment); best score first.

    Query and sources are sampled at `fps`; `query_seconds` are the query frames' own times
    (i / fps when None), which the segments' query times are read from; `query_end_s`, where the
    query ends (its duration), which no segment runs past.
    null_vectors: frames that carry no information; None means the flat-frame copy descriptor.
    """
    query = _as_vectors(query)
    if query.size == 0:
        return []
    query_seconds = _source_seconds(query_seconds, len(query), fps)
    if null_vectors is None:
        nulls = default_null_vectors(query.shape[1])
    else:
        nulls = _as_vectors(null_vectors)
    informative = informative_frames(query, nulls, params)
    diagonals: list[tuple[Hashable, _Diagonal]] = []
    seconds: dict[Hashable, np.ndarray] = {}
    for video_id, (vectors, secs) in candidates.items():
        vectors = _as_vectors(vectors)
        if vectors.size == 0:
            continue
        seconds[video_id] = _source_seconds(secs, len(vectors), fps)
        diagonals += [(video_id, d) for d in _diagonals(query, vectors, informative, params)]
    runs = resolve(diagonals, informative, threshold, params)
    log.debug(
        "clip of %d frames: %d segments among %d candidates", len(query), len(runs), len(candidates)
    )
    return [(run.key, _to_segment(run, seconds[run.key], query_seconds, fps, params, query_end_s)) for run in runs]


def align(
    query: np.ndarray,
    source: np.ndarray,
    *,
    fps: float = 1.0,
    source_seconds: np.ndarray | None = None,
    query_seconds: np.ndarray | None = None,
    threshold: float = MATCH_THRESHOLD,
    null_vectors: np.ndarray | None = None,
    params: AlignParams = DEFAULT_PARAMS,
) -> list[Segment]:
    """Where the query (m x d) occurs in one source (n x d): segments best first, disjoint in
    query time, each scoring at least `threshold`."""
    candidates = {0: (source, source_seconds)}
    matches = align_candidates(
        query, candidates, fps=fps, query_seconds=query_seconds, threshold=threshold, null_vectors=null_vectors,
        params=params,
    )
    return [segment for _, segment in matches]
