"""Clip matching: which indexed videos a clip was cut from, where, at what speed, through which
window of their picture, and whether the audio agrees.

Plain objects over the store and a synced CopyIndex; the Reranker and AudioVerifier deployments
are shells around `match_clip` and `verify_audio`.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING

import numpy as np

from vidsearch.alignment import AlignParams, Segment, refine_speed
from vidsearch.fingerprints import AudioFingerprint
from vidsearch.results import AudioCheck, Crop, Match

if TYPE_CHECKING:
    from vidsearch.clips import ClipVectors

CANDIDATE_PROBES = 16  # clip frames per variant that look for candidate videos
PLAIN_CANDIDATES = 8  # of the whole picture and its mirror
INSET_PROBES = 6  # per inset window: sixteen windows and up to two boxes, so up to 140 searches per clip
INSET_CANDIDATES = 3  # per inset window: an inset that is a copy puts its source first
# Sixteen inset windows are sixteen more chances for a chance alignment: their scores are discounted
# so that the one threshold (alignment.MATCH_THRESHOLD) holds for them too. On the evaluation
# corpus true insets scored 0.77-0.90 before the discount, chance ones at most 0.74.
INSET_DISCOUNT = 0.93
CROP_PROBES = 4  # clip frames per crop window: 7 positions x 3 source shapes, 84 searches
CROP_CANDIDATES = 3  # per source shape
CROP_DISCOUNT = 0.93  # as for insets: 21 windows are as many chances of a chance alignment
ZOOM_CANDIDATES = 3  # of the whole picture's best, aligned again through 20 windows each
# Windows are aligned at the source's speed only: each window costs as much as a candidate of the
# whole picture, and crops and zooms aligned at every speed as well found no more retimed crops on
# either corpus, for several times the /match time (docs/benchmarks.md). A crop or zoom match's
# speed and source span are read afterwards through its window, from the clip's dense frames.
WINDOW_SPEEDS = (1.0,)
CROP_ASPECT = 1.05  # clips at most this wide (width / height) are looked for as vertical cuts


def match_clip(store, index, clip: ClipVectors, limit: int = 5, threshold: float | None = None) -> list[Match]:
    """Sources of a clip, by aligning its frame sequence (copy vectors at the index's sampling
    rate) against the frames of each candidate video of `index` (a synced CopyIndex).

    Only candidates are aligned, so the cost follows the clip and the number of candidates, not
    the library's size. Each candidate is aligned as it is and mirrored (a flipped re-upload), in
    one resolution, so a query second goes to whichever reading of whichever source explains it
    best. Then each window of the clip's frames where an inset may sit (`clip.insets`, one m x d
    sequence per window of INSET_WINDOWS) is aligned on its own against its candidates, for
    sources shown as an inset (picture in picture) in another picture. A clip narrower than the
    sources (a vertical re-post) is also looked for as a window cut out of them, and any clip as
    a zoom or a one-sided cut of its candidates, or as their picture less a side an overlay
    covers (vidsearch.crops).

    `threshold`: the least score reported (the clip's descriptor's unless given: for the default,
    alignment.MATCH_THRESHOLD; evaluations lower it to see every score). A descriptor that is not
    linear (a learned one, `clip.descriptor`) gets no crop windows, and no mirrored readings where
    it has no sign mask for them.
    """
    return match_clips(store, index, [clip], limit, threshold)[0]


def match_clips(store, index, clips: list[ClipVectors], limit: int = 5, threshold: float | None = None,
                ) -> list[list[Match]]:
    """`match_clip` of each clip, with every clip's candidate searches made in one search of the
    index: over a large library a search reads every vector once, whatever the number of probes."""
    searches = [_searches(clip) for clip in clips]
    groups = [g for s in searches for groups, _ in s for g in groups]
    limits = [n for s in searches for groups, n in s for _ in groups]
    answers = iter(index.candidates_of(groups, limit=limits))
    records: dict = {}  # each source's record, read once for the clips that found it
    out = []
    for clip, clip_searches in zip(clips, searches):
        found = [[next(answers) for _ in groups] for groups, _ in clip_searches]
        out.append(_match(store, index, clip, found, limit, threshold, records))
    return out


def _searches(clip: ClipVectors) -> list[tuple[list[np.ndarray], int]]:
    """The candidate searches of a clip, as (groups of probes, candidates per group): the whole
    picture and its mirror; each inset window; and, for a clip narrower than its sources, each
    shape of source it may be cut from."""
    from vidsearch.crops import windows_for

    if not len(clip.copy):
        return []
    probe, flip = spread(clip.copy), clip.descriptor.flip
    searches = [([np.vstack([probe, probe * flip]) if flip is not None else probe], PLAIN_CANDIDATES),
                ([spread(vectors, INSET_PROBES) for vectors in _windows(clip)[1]], INSET_CANDIDATES)]
    if clip.aspect <= CROP_ASPECT and clip.descriptor.linear:  # landscape cuts of a wider film are zooms of its candidates
        shapes = windows_for(clip.aspect).values()
        searches.append(([np.vstack([w.probe(spread(clip.copy, CROP_PROBES)) for w in windows]) for windows in shapes],
                         CROP_CANDIDATES))
    return searches


def _match(store, index, clip: ClipVectors, found: list[list[list[str]]], limit: int, threshold: float | None,
           records: dict) -> list[Match]:
    """A clip's matches, its candidates found (`_searches`' answers, in their order)."""
    from vidsearch.alignment import align_candidates
    from vidsearch.crops import windows_for

    copy, descriptor = clip.copy, clip.descriptor
    if not len(copy):
        return []
    # Every alignment reads the clip's own frame times: sampled at another rate than 1 fps, or
    # starting late, its segments still say where in the clip they are.
    align = partial(align_candidates, fps=clip.fps, query_seconds=clip.seconds, params=descriptor.params,
                    null_vectors=descriptor.null_vectors(), query_end_s=clip.metadata.duration_s)
    candidates = {}
    plain = {vid: index.frames(vid) for vid in found[0][0]}
    for vid, (source_seconds, vectors) in plain.items():
        candidates[(vid, False)] = (vectors, source_seconds)
        if descriptor.flip is not None:
            candidates[(vid, True)] = (vectors * descriptor.flip, source_seconds)
    threshold = descriptor.threshold if threshold is None else threshold
    matched = [(vid, flipped, None, None, _timed(clip, seg, *candidates[vid, flipped]))
               for (vid, flipped), seg in align(copy, candidates, threshold=threshold)]
    windowed = replace(descriptor.params, speeds=WINDOW_SPEEDS)
    matched += _inset_matches(align, index, *_windows(clip), found[1], claimed={vid for vid, *_ in matched},
                              threshold=threshold, params=windowed)
    crops = _zoom_matches(align, clip, plain, threshold, windowed) if descriptor.linear else []
    if len(found) > 2:
        shapes = list(windows_for(clip.aspect).values())
        crops += _crop_matches(align, index, clip, shapes, found[2], threshold, windowed)
    for crop in sorted(crops, key=lambda c: -c[-1].score):
        # A window that explains the clip better replaces what the whole picture found there.
        beaten = [f for f in matched if f[0] == crop[0] and _overlap(f[-1], crop[-1]) and f[-1].score < crop[-1].score]
        if beaten or all(f[0] != crop[0] for f in matched):
            matched = [f for f in matched if f not in beaten] + [crop]
    matched.sort(key=lambda f: -f[-1].score)
    for vid in {f[0] for f in matched} - records.keys():
        records[vid] = store.get_video(vid)
    paths = {f[0]: records[f[0]].path for f in matched if records[f[0]] is not None}  # None: deleted meanwhile
    return [
        Match(
            video_id=vid, path=paths[vid], score=round(seg.score, 4),
            source_start_s=round(seg.source_start_s, 3), source_end_s=round(seg.source_end_s, 3),
            query_start_s=round(seg.query_start_s, 3), query_end_s=round(seg.query_end_s, 3),
            speed=seg.speed, visual_score=round(seg.score, 4), flipped=flipped, crop=crop,
            inset=inset_at[0] if inset_at else None, inset_box=inset_at[1] if inset_at else None,
        )
        for vid, flipped, inset_at, crop, seg in matched
        if vid in paths
    ][:limit]


def _timed(clip: ClipVectors, segment: Segment, vectors: np.ndarray, seconds: np.ndarray) -> Segment:
    """The segment's speed and source span, read again from the clip's dense frames where it has
    them, against the source's frames as they were aligned (mirrored for a mirrored reading)."""
    if clip.fine_copy is None:
        return segment
    return refine_speed(segment, clip.fine_seconds, clip.fine_copy, seconds, vectors, clip.descriptor.params)


def _best_per_source(aligned, discount: float) -> dict[str, tuple]:
    """Of windowed alignments ((vid, window), segment), the best per source as {vid: ((vid, window),
    segment)}, its score discounted: each window is one more chance of a chance alignment."""
    best: dict[str, tuple] = {}
    for key, seg in aligned:
        seg = replace(seg, score=seg.score * discount)
        if key[0] not in best or seg.score > best[key[0]][1].score:
            best[key[0]] = (key, seg)
    return best


def _windows(clip: ClipVectors) -> tuple[list, list[np.ndarray]]:
    """The clip's inset windows as (where, box or None) and their vectors: the fixed windows of
    INSET_WINDOWS, then the boxes found in its picture (media.insets)."""
    from vidsearch.embedders.copy import INSET_WINDOWS

    where = [(corner, None) for corner, _ in INSET_WINDOWS] + [(_place(box), box) for box in clip.boxes]
    vectors = list(clip.insets) + (list(clip.box_vectors) if clip.box_vectors is not None else [])
    return where, vectors


def _place(box: Crop) -> str:
    """Where a box sits in the clip's picture, in words: top_left ... bottom_right, or centre."""
    def third(start: float, size: float, names: tuple[str, str, str]) -> str:
        return names[min(2, int(3 * (start + size / 2)))]

    row, col = third(box.y, box.height, ("top", "", "bottom")), third(box.x, box.width, ("left", "", "right"))
    return "_".join(p for p in (row, col) if p) or "centre"


def _inset_matches(align, index, where: list, insets: list[np.ndarray], found: list[list[str]], claimed: set[str],
                   threshold: float, params: AlignParams) -> list[tuple]:
    """The best inset match per source not already found in the whole picture: each inset window
    (`where`, `insets`: `_windows`) aligned on its own against its few candidates (`found`), scores
    discounted."""
    best: dict[str, tuple] = {}
    for i, (vectors, candidates) in enumerate(zip(insets, found)):
        framed = {}
        for vid in candidates:
            if vid not in claimed:
                seconds, source = index.frames(vid)
                framed[vid, i] = (source, seconds)
        aligned = align(vectors, framed, threshold=threshold / INSET_DISCOUNT, params=params)
        for vid, ((_, at), seg) in _best_per_source(aligned, INSET_DISCOUNT).items():
            if vid not in best or seg.score > best[vid][-1].score:
                best[vid] = (vid, False, where[at], None, seg)
    return list(best.values())


def _overlap(a, b) -> bool:
    return min(a.query_end_s, b.query_end_s) > max(a.query_start_s, b.query_start_s)


def _zoom_matches(align, clip: ClipVectors, frames: dict, threshold: float, params: AlignParams) -> list[tuple]:
    """The best match per candidate of the whole picture as a window of it that keeps a
    landscape shape (zoomed in, or cut on one side), and of the picture less the side an overlay
    may cover (`clip.sides`: the clip's own vectors of those parts): the whole picture's
    candidates (`frames`, {vid: (seconds, vectors)}, best first) are aligned again through each
    window; no more searches of the index, nor reads of it."""
    from vidsearch.crops import side_windows, zoom_windows
    from vidsearch.embedders.copy import HFLIP

    best = dict(list(frames.items())[:ZOOM_CANDIDATES])  # the whole picture's, best first
    found = _window_matches(align, clip.copy, zoom_windows(), best, threshold, params, fine=_fine(clip))
    # Mirrored and cropped: the mirrored clip is a window of the source (the windows are
    # symmetric). Rarer, so looked for in the best candidate only.
    found += _window_matches(align, clip.copy * HFLIP, zoom_windows(), dict(list(best.items())[:1]), threshold,
                             params, flipped=True, fine=_fine(clip, HFLIP))
    # An overlay drags the whole picture's vote down: every candidate is seen less each side.
    for part, window in zip(clip.sides if clip.sides is not None else [], side_windows()):
        found += _window_matches(align, part, [window], frames, threshold, params)
    return found


def _fine(clip: ClipVectors, sign: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """The clip's dense frames as (seconds, vectors), mirrored by `sign`; None for a long clip."""
    if clip.fine_copy is None:
        return None
    return clip.fine_seconds, clip.fine_copy if sign is None else clip.fine_copy * sign


def _window_matches(
    align, copy: np.ndarray, windows: list, frames: dict, threshold: float, params: AlignParams, flipped: bool = False,
    fine: tuple[np.ndarray, np.ndarray] | None = None,
) -> list[tuple]:
    """Align the clip with each source of `frames` ({vid: (seconds, vectors)}) seen through each
    window; windows that compare the same coefficients are aligned together. The best per source,
    with its speed and source span read again through its window from the clip's dense frames where
    they say one (`fine`: (seconds, vectors) of the clip's whole picture, which the window shows)."""
    best: dict[str, tuple] = {}
    groups: dict[bytes, list[int]] = {}
    for i, w in enumerate(windows):
        groups.setdefault(w.keep.tobytes(), []).append(i)
    framed = {}  # {(vid, window): (the source's vectors through the window, seconds)}
    for members in groups.values():
        group = {
            (vid, i): (windows[i].source(vectors), seconds) for vid, (seconds, vectors) in frames.items() for i in members
        }
        framed |= group
        aligned = align(windows[members[0]].clip(copy), group, threshold=threshold / CROP_DISCOUNT, params=params)
        for vid, (key, seg) in _best_per_source(aligned, CROP_DISCOUNT).items():
            if vid not in best or seg.score > best[vid][1].score:
                best[vid] = (key, seg)
    matched = []
    for (vid, i), seg in best.values():
        w = windows[i]
        if fine is not None:  # strictly: through a window (docs/benchmarks.md, "Retimed crops again")
            source, seconds = framed[vid, i]
            seg = refine_speed(seg, fine[0], w.clip(fine[1]), seconds, source, params, strict=True)
        crop = Crop(x=round(w.x0, 3), width=round(w.width, 3), y=round(w.y0, 3), height=round(w.height, 3))
        matched.append((vid, flipped, None, crop, seg))
    return matched


def _crop_matches(align, index, clip: ClipVectors, shapes: list, found: list[list[str]], threshold: float,
                  params: AlignParams) -> list[tuple]:
    """The best match per source of a clip narrower than its sources as a full-height window of
    them: for each shape of source it may be cut from (`shapes`), the candidates its windows'
    probes found (`found`) are aligned through every window."""
    matched = []
    for windows, candidates in zip(shapes, found):
        matched += _window_matches(align, clip.copy, windows, {vid: index.frames(vid) for vid in candidates},
                                   threshold, params, fine=_fine(clip))
    return matched


def spread(vectors: np.ndarray, most: int = CANDIDATE_PROBES) -> np.ndarray:
    """At most `most` rows, evenly spaced: enough frames to vote for a clip's sources, and a fixed
    cost per clip and variant over a library of any size (each row is a search of the index)."""
    if len(vectors) <= most:
        return vectors
    return vectors[np.linspace(0, len(vectors) - 1, most).round().astype(int)]


def verify_audio(
    store, clip: AudioFingerprint, matches: list[Match], tolerance_s: float = 1.0, clip_path: str | None = None,
) -> list[Match]:
    """Say, for each visual match, whether the clip's audio (its fingerprint) sits at the same
    place in the source; `evidence` becomes "both" where it does.

    Chromaprint is not tempo-invariant: for a match played at another speed, the clip's audio
    (`clip_path`) is put back to the source's tempo first, pitch kept (as editors change speed)
    or, failing that, resampled (as a tape played faster). `audio` stays None ("unknown") when
    the clip or the source has no usable audio: silence is no evidence either way.
    """
    from vidsearch.fingerprints import decode_items, fingerprint_audio

    if not matches or clip.status != "fingerprinted":
        return matches
    retimed: dict[tuple[float, str], AudioFingerprint] = {}
    for match in matches:
        record = store.get_video(match.video_id, with_fingerprint=True)
        if record is None or not record.fingerprint or record.audio != "fingerprinted":
            continue
        source = decode_items(record.fingerprint)
        speed = match.speed
        match.audio = _audio_verdict(clip, source, match, tolerance_s)
        for how in ("tempo", "resample") if speed != 1.0 and clip_path else ():
            if match.audio.verified:
                break
            if (speed, how) not in retimed:
                retimed[speed, how] = fingerprint_audio(clip_path, speed=speed, keep_pitch=how == "tempo")
            if retimed[speed, how].status == "fingerprinted":
                match.audio = _audio_verdict(retimed[speed, how], source, match, tolerance_s)
        if match.audio.verified:
            match.evidence = "both"
    return matches


def _audio_verdict(clip: AudioFingerprint, source: np.ndarray, match: Match, tolerance_s: float) -> AudioCheck:
    """Where `clip` sits in `source`, and whether that is where the picture put it. The clip's
    first second is at the source's `source_start_s - speed * query_start_s`, whether its audio
    plays at the clip's speed or was put back to the source's."""
    from vidsearch.fingerprints import locate

    found = locate(clip.items, source)
    expected = match.source_start_s - match.speed * match.query_start_s
    return AudioCheck(
        verified=bool(found is not None and abs(found.offset_s - expected) <= tolerance_s),
        offset_s=round(found.offset_s, 3) if found else None,
        score=round(found.score, 4) if found else 0.0,
    )
