"""The library's copies: videos that are the same footage (re-encodes, rescales, trims, and one
video inside another), found when a video is indexed.

A new video looks for its copies among the complete ones through the store's own index of copy
vectors: a few probe frames spread over the video each ask for their nearest frames, and the
videos those belong to are voted for. Only the few most voted are aligned with it (as a clip is
with its sources), so the cost of a new video follows its length and the index's search, not the
library's size; no pair of videos is ever aligned that no probe brought together.

Two videos are copies when the alignment matches most of the shorter one's frames, one to one;
flat frames (black, a fade) are no evidence and count only where both videos are flat at the
aligned place. A shared intro, a logo or black frames cover a small part of either video, so they
do not make two videos copies. Each link is kept on the newer video's record
(`VideoRecord.copies`); `groups` joins the links into groups of footage.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field, replace

import numpy as np

from vidsearch.results import CopyPair, CopyRef, Moment
from vidsearch.store.records import CopyLink, VideoRecord

log = logging.getLogger(__name__)

PROBES = 32  # frames of the new video that look for candidates: spread over its length
PER_PROBE = 16  # nearest frames each probe asks the store for
CANDIDATES = 6  # most voted videos aligned with it
MIN_COVER = 0.8  # of the shorter video's frames the alignment must match
MIN_FRAMES = 3  # informative frames the shorter video needs: a second of video is no footage
ALIKE = 0.5  # copy-vector cosine of two frames that show the same picture (alignment's vote floor)


def find_copies(store, video_id: str, fps: float, alignment: tuple | None = None) -> list[CopyLink]:
    """The complete videos of `store` that are the same footage as video `video_id` (its frames
    written), best first. `alignment`: the copy descriptor's (params, threshold)
    (embedders.descriptors.alignment_for); the default descriptor's when None."""
    from vidsearch.alignment import (
        AlignParams,
        align_candidates,
        default_null_vectors,
        informative_frames,
    )
    from vidsearch.matching import spread

    params, threshold = alignment or (AlignParams(), None)
    seconds, vectors = store.frame_vectors(video_id, "copy")
    if len(seconds) < MIN_FRAMES:
        return []
    nulls = default_null_vectors(vectors.shape[1])
    informative = informative_frames(vectors, nulls)
    if informative.sum() < MIN_FRAMES:
        return []
    votes: Counter[str] = Counter()
    for probe in spread(vectors[informative], PROBES):  # evenly over the video, as a clip's probes
        hits, _ = store.search(probe, "copy", PER_PROBE, with_vectors=False)
        votes.update({h.video_id for h in hits if h.video_id != video_id})
    links = []
    for other_id, _ in votes.most_common(CANDIDATES):
        other = store.get_video(other_id)
        if other is None or other.status != "complete":
            continue
        other_seconds, other_vectors = store.frame_vectors(other_id, "copy")
        segments = [
            seg for _, seg in align_candidates(
                vectors, {other_id: (other_vectors, other_seconds)}, fps=fps, query_seconds=seconds,
                params=replace(params, speeds=(1.0,)), **({"threshold": threshold} if threshold else {}),
            )
        ]
        link = _link(other_id, segments, (seconds, vectors, informative),
                     (other_seconds, other_vectors, informative_frames(other_vectors, nulls)), params.vote_floor)
        if link is not None:
            links.append(link)
    return sorted(links, key=lambda link: -link.score)


def look_for_copies(store, fps: float, alignment: tuple | None = None) -> int:
    """Copies of the complete videos indexed before copies were looked for (the writer looks for
    those of each video it completes): the work of one new video each, no decoding."""
    older = [r for r in store.list_videos("complete") if r.copies is None]
    for record in older:
        links = find_copies(store, record.video_id, record.sampling_fps or fps, alignment)
        store.set_copies(record.video_id, [link.model_dump() for link in links])
    return len(older)


def _link(other_id: str, segments: list, mine: tuple, theirs: tuple, floor: float = ALIKE) -> CopyLink | None:
    """A link when the segments match MIN_COVER of the shorter video's frames; `mine` and
    `theirs` are each video's (seconds, vectors, informative)."""
    if not segments:
        return None
    seconds, vectors, informative = mine
    other_seconds, other_vectors, other_informative = theirs
    matched_mine = np.zeros(len(seconds), dtype=bool)
    matched_theirs = np.zeros(len(other_seconds), dtype=bool)
    for seg in segments:
        # A segment counts from its first frame alike along its line to its last: frames between
        # (a cut the two samplings straddle, a flash) are the same footage, but an alignment may
        # also run on past its ends by a few unlike frames, which are no evidence of it.
        inside = np.flatnonzero((seconds >= seg.query_start_s - 1e-6) & (seconds < seg.query_end_s - 1e-6))
        at = seg.source_start_s + (seconds[inside] - seg.query_start_s) * seg.speed
        nearest = _nearest(other_seconds, at)
        alike = np.flatnonzero(np.einsum("ij,ij->i", vectors[inside], other_vectors[nearest]) >= floor)
        if len(alike):
            kept = slice(alike[0], alike[-1] + 1)
            matched_mine[inside[kept]] = True
            matched_theirs[nearest[kept]] = True
    # Frames matched one to one: in a still shot every frame looks like every other, and segments
    # at several offsets would cover all of it with the same two frames of the other video.
    matched = min((matched_mine & informative).sum(), (matched_theirs & other_informative).sum())
    # Flat frames (black, a fade) are no evidence: they count as the same footage only where the
    # other video is flat too at the place the alignment puts them. A video of an intro and
    # nothing else is no copy of the video it took the intro from.
    offset = float(np.median([s.source_start_s - s.query_start_s for s in segments]))
    matched += _flat_in_both(seconds, informative, other_seconds, other_informative, offset)
    covers_mine, covers_theirs = matched / len(seconds), matched / len(other_seconds)
    shorter = covers_mine if len(seconds) <= len(other_seconds) else covers_theirs
    if min(informative.sum(), other_informative.sum()) < MIN_FRAMES or shorter < MIN_COVER:
        return None
    weights = np.array([s.matched_frames for s in segments], dtype=float)
    return CopyLink(
        video_id=other_id,
        start_s=round(min(s.query_start_s for s in segments), 3),
        end_s=round(max(s.query_end_s for s in segments), 3),
        other_start_s=round(min(s.source_start_s for s in segments), 3),
        other_end_s=round(max(s.source_end_s for s in segments), 3),
        offset_s=round(offset, 3),
        score=round(float(np.average([s.score for s in segments], weights=weights)), 4),
        covers=round(float(covers_mine), 3),
        other_covers=round(float(covers_theirs), 3),
    )


def _flat_in_both(seconds: np.ndarray, informative: np.ndarray, other_seconds: np.ndarray,
                  other_informative: np.ndarray, offset: float) -> int:
    """Flat frames of one video whose place in the other (at `offset`) is a flat frame too."""
    flat = np.flatnonzero(~informative)
    if not len(flat) or not len(other_seconds):
        return 0
    at = seconds[flat] + offset
    nearest = _nearest(other_seconds, at)
    close = np.abs(other_seconds[nearest] - at) <= 0.75
    return len(set(nearest[close & ~other_informative[nearest]].tolist()))


def _nearest(seconds: np.ndarray, at: np.ndarray) -> np.ndarray:
    """The index of the frame of `seconds` (sorted) nearest each time of `at`."""
    after = np.clip(np.searchsorted(seconds, at), 0, len(seconds) - 1)
    before = np.clip(after - 1, 0, len(seconds) - 1)
    return np.where(np.abs(seconds[before] - at) < np.abs(seconds[after] - at), before, after)


def _covered(seconds: np.ndarray, spans: list[tuple[float, float]]) -> np.ndarray:
    inside = np.zeros(len(seconds), dtype=bool)
    for start, end in spans:
        inside |= (seconds >= start - 1e-6) & (seconds < end + 1e-6)
    return inside


@dataclass
class Groups:
    """The library's footage groups: each a set of videos joined by their pairs."""

    of: dict[str, int] = field(default_factory=dict)  # video id -> group number
    members: list[list[str]] = field(default_factory=list)
    pairs: list[list[CopyPair]] = field(default_factory=list)

    def group_of(self, video_id: str) -> int | None:
        return self.of.get(video_id)


def pairs_of(records: list[VideoRecord]) -> list[CopyPair]:
    """Every link of the complete records between two complete videos, as a pair."""
    complete = {r.video_id for r in records if r.status == "complete"}
    pairs: dict[frozenset, CopyPair] = {}  # a video indexed again after its copy links to it too: once
    for r in records:
        for link in r.copies or []:
            if r.video_id not in complete or link.video_id not in complete:
                continue  # a link to a video deleted, or being indexed again
            relation = "same" if min(link.covers, link.other_covers) >= MIN_COVER else (
                "within" if link.covers >= MIN_COVER else "contains")
            pair = CopyPair(a=r.video_id, b=link.video_id, a_start_s=link.start_s, a_end_s=link.end_s,
                        b_start_s=link.other_start_s, b_end_s=link.other_end_s, offset_s=link.offset_s,
                        score=link.score, relation=relation)
            key = frozenset((pair.a, pair.b))
            if key not in pairs or pair.score > pairs[key].score:
                pairs[key] = pair
    return list(pairs.values())


def groups(records: list[VideoRecord]) -> Groups:
    """The footage groups of the library (union of its pairs), largest first."""
    pairs = pairs_of(records)
    parent: dict[str, str] = {}

    def root(v: str) -> str:
        while parent.setdefault(v, v) != v:
            parent[v] = parent[parent[v]]
            v = parent[v]
        return v

    for p in pairs:
        parent[root(p.a)] = root(p.b)
    by_root: dict[str, list[str]] = {}
    for v in parent:
        by_root.setdefault(root(v), []).append(v)
    found = Groups()
    for members in sorted(by_root.values(), key=lambda m: (-len(m), sorted(m))):
        number = len(found.members)
        found.members.append(sorted(members))
        for v in members:
            found.of[v] = number
        found.pairs.append([])
    for p in pairs:
        found.pairs[found.of[p.a]].append(p)
    return found


SAME_MOMENT_S = 3.0  # a copy's result this close to where the pair puts the kept one is that one


def fold_copies(results: list[Moment], found: Groups) -> list[Moment]:
    """One result per footage: a result whose moment another copy's result (kept, better) already
    shows is folded into it, named in its `copies`."""
    kept: list[Moment] = []
    for result in results:
        number = found.group_of(result.video_id)
        same = None
        if number is not None:
            for pair in found.pairs[number]:
                mapped = pair.maps(result.video_id, result.timestamp_s)
                if mapped is None:
                    continue
                same = next((k for k in kept if k.video_id == mapped[0] and _near(k, mapped[1])), None)
                if same is not None:
                    break
        if same is None:
            kept.append(result)
            continue
        ref = CopyRef(video_id=result.video_id, path=result.path, timestamp_s=result.timestamp_s)
        same.copies = [*(same.copies or []), ref]
    return kept


def _near(kept: Moment, second: float) -> bool:
    if kept.scene is not None and kept.scene.start_s - 1 <= second < kept.scene.end_s + 1:
        return True
    return abs(kept.timestamp_s - second) <= SAME_MOMENT_S


class GroupCache:
    """The library's groups for searches, read again at most every `max_age_s`: a video indexed
    meanwhile is folded from then on."""

    def __init__(self, max_age_s: float = 10.0):
        self.max_age_s = max_age_s
        self._groups: Groups | None = None
        self._at = 0.0
        self._lock = threading.Lock()

    def get(self, store) -> Groups:
        with self._lock:
            if self._groups is None or time.monotonic() - self._at > self.max_age_s:
                self._groups, self._at = groups(store.list_videos("complete")), time.monotonic()
            return self._groups
