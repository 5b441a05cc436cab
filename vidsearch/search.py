"""Query logic shared by the service and the in-process chain: moments for a vector, fused with
what is said and subtitled. Clip matching is vidsearch.matching.

Plain objects over the store; the Serve deployments are shells around them.
"""

from __future__ import annotations

import numpy as np

from vidsearch.filters import SearchFilters
from vidsearch.results import Moment
from vidsearch.store.base import FrameHit

Group = str | None  # None: moments; "video": the best few per video; "scene": one per scene
SCENE_DEPTH = 6  # moments looked at per scene result wanted: a long shot holds several of them
COPIES_DEPTH = 2  # and per result when copies of one footage are folded into one


def _depth(k: int, group: Group, copies) -> int:
    """How many moments to rank for `k` results once grouped by scene and copies folded."""
    return k * (SCENE_DEPTH if group == "scene" else 1) * (COPIES_DEPTH if copies is not None else 1)


def _finish(store, found: list[Moment], k: int, group: Group, copies) -> list[Moment]:
    """The first `k` results: one per scene with group "scene", one per footage with `copies`
    (the library's duplicates.Groups)."""
    from vidsearch.duplicates import fold_copies

    if group == "scene":
        found = by_scene(store, found)
    if copies is not None:
        found = fold_copies(found, copies)
    return found[:k]


def moments(store, vector: np.ndarray, k: int, filters: SearchFilters, group: Group = None, per_video: int = 3,
            copies=None) -> list[Moment]:
    """The best moments for a semantic query vector, grouped as `group` says; with `copies` (the
    library's duplicates.Groups), one result per footage."""
    from vidsearch.rerank import dedupe_moments, group_by_video, rerank

    # Qdrant proposes; where its scores may come from quantised codes, FAISS re-scores the
    # candidates exactly. Scores on the stored vectors are exact already: fetching the vectors to
    # score them again would only cost time.
    query = np.asarray(vector, dtype=np.float32).reshape(1, -1)
    exact = store.exact_scores
    deep = _depth(k, group, copies)
    candidates, vectors = store.search(query, "semantic", max(4 * deep, 64), filters.to_qdrant(), with_vectors=not exact)
    if not candidates:
        return []
    hits = dedupe_moments(candidates if exact else rerank(query, vectors, candidates, top_k=len(candidates))[0])
    if group == "video":
        hits = [h for video in group_by_video(hits, per_video=per_video) for h in video.moments]
    return _finish(store, [_moment(h) for h in hits[:deep]], k, group, copies)


def by_scene(store, results: list[Moment]) -> list[Moment]:
    """`results` (best first) one per scene of the store's videos (see scenes.group_by_scene)."""
    from vidsearch.scenes import group_by_scene

    def scenes_of(video_id: str):
        record = store.get_video(video_id)
        if record is None or not record.scenes:
            return None
        return record.scenes, record.sampling_fps or 1.0

    return group_by_scene(results, scenes_of)


def _moment(hit: FrameHit) -> Moment:
    return Moment(
        video_id=hit.video_id, path=hit.path, timestamp_s=round(hit.second, 3), score=round(hit.score, 4),
        matched=["visual"], thumbnail_url=f"/videos/{hit.video_id}/thumbnail?t={hit.second:.3f}",
    )


RRF_K = 60  # the usual constant of reciprocal rank fusion: ranks past the first few count alike
SAME_MOMENT_S = 3.0  # a picture and words this close in one video are one result


def fuse(
    ranked: dict[str, list[Moment]], weights: dict[str, float], k: int, method: str = "rrf", group: bool = False,
    per_video: int = 3,
) -> list[Moment]:
    """One list from the visual, said and subtitle lists (`ranked`, by name, each best first).

    `rrf` scores each result by the weighted reciprocal of its rank in each list; `weighted` by
    the weighted sum of its scores, each list's scaled to its best. A moment found by several
    lists is one result that says each reason (`matched`) and keeps each list's score
    (`scores`); it lands on the words' second when words matched, which is the sharper one.
    `group` keeps the best `per_video` moments of each video.
    """
    fused: list[Moment] = []
    for name, results in ranked.items():
        weight = weights.get(name, 1.0)
        if weight <= 0 or not results:
            continue
        best = max(r.score for r in results) or 1.0
        for rank, r in enumerate(results):
            gain = weight / (RRF_K + rank + 1) if method == "rrf" else weight * r.score / best
            same = next(
                (f for f in fused if f.video_id == r.video_id
                 and abs(f.timestamp_s - r.timestamp_s) <= SAME_MOMENT_S and name not in f.scores),
                None,
            )
            if same is None:
                same = r.model_copy(update={"score": 0.0, "matched": [], "scores": {}})
                fused.append(same)
            elif r.quote is not None and same.quote is None:
                same.quote, same.timestamp_s = r.quote, r.timestamp_s
            same.scores[name] = r.score
            same.score += gain
            same.matched = list(dict.fromkeys(same.matched + r.matched))
    # Ties (rank one of two lists scores alike) go to words: a text hit exists only where the words
    # are, while the picture always has a nearest frame.
    fused.sort(key=lambda f: (-f.score, f.quote is None))
    if group:
        by_video: dict[str, list[Moment]] = {}
        for f in fused:
            by_video.setdefault(f.video_id, []).append(f)
        fused = [f for moments in by_video.values() for f in moments[:per_video]]
    for f in fused:
        f.score = round(f.score, 6)
        f.thumbnail_url = f"/videos/{f.video_id}/thumbnail?t={f.timestamp_s:.3f}"
    return fused[:k]


def search_all(
    store, vector: np.ndarray | None, q: str, k: int, filters: SearchFilters, group: Group,
    sources: tuple[str, ...] = ("visual", "said", "subtitle"), weights: dict[str, float] | None = None,
    method: str = "rrf", copies=None,
) -> list[Moment]:
    """What the picture shows (`vector`, None without a semantic model), what is said and what
    subtitles show, for one query, fused (see `fuse`), grouped as `group` says; with `copies`
    (the library's duplicates.Groups), one result per footage."""
    from vidsearch.text.query import text_moments

    flt = filters.to_qdrant()
    wanted_k = _depth(k, group, copies)
    deep = max(2 * wanted_k, 20)  # each list deeper than what is kept: fusion reorders them
    ranked: dict[str, list[Moment]] = {}
    if vector is not None and "visual" in sources:
        ranked["visual"] = moments(store, vector, deep, filters)
    # One text query serves both lists; each keeps the hits of its own kind.
    wanted = [name for name in ("said", "subtitle") if name in sources]
    if wanted:
        kind = None if len(wanted) == 2 else {"said": "speech", "subtitle": "subtitle"}[wanted[0]]
        text = text_moments(store, q, 2 * deep, flt, kind=kind)
        for name in wanted:
            ranked[name] = [t for t in text if t.matched == [name]][:deep]
    fused = fuse(ranked, weights or {}, wanted_k, method, group == "video")
    return _finish(store, fused, k, group, copies)


def similar_scenes(store, video_id: str, start_s: float, end_s: float, k: int, using: str,
                   filters: SearchFilters | None = None, copies=None) -> list[Moment]:
    """Scenes most like the span [start_s, end_s) of a video, one result each, best first: the
    mean of the span's `using` vectors ("semantic", or "copy" for a video without them) searched
    across the library, the span itself left out."""
    from vidsearch.rerank import dedupe_moments

    seconds, vectors = store.frame_vectors(video_id, using)
    if not len(seconds):
        return []
    inside = (seconds >= start_s) & (seconds < end_s)
    if not inside.any():  # a span shorter than a sample: its nearest one
        inside = np.arange(len(seconds)) == np.argmin(np.abs(seconds - (start_s + end_s) / 2))
    query = vectors[inside].mean(axis=0)
    query /= np.linalg.norm(query) or 1.0
    flt = (filters or SearchFilters()).to_qdrant()
    hits, _ = store.search(query, using, max(4 * _depth(k, "scene", copies), 64), flt, with_vectors=False)
    hits = [h for h in hits if not (h.video_id == video_id and start_s <= h.second < end_s)]
    if copies is not None:  # nor the same scene in the anchor's other copies
        hits = [h for h in hits if not _copy_of_span(copies, video_id, start_s, end_s, h)]
    return _finish(store, [_moment(h) for h in dedupe_moments(hits)], k, "scene", copies)


def _copy_of_span(copies, video_id: str, start_s: float, end_s: float, hit: FrameHit) -> bool:
    """Whether `hit` shows the span of `video_id` in another copy of its footage."""
    number = copies.group_of(video_id)
    if number is None or copies.group_of(hit.video_id) != number:
        return False
    for pair in copies.pairs[number]:
        mapped = pair.maps(hit.video_id, hit.second)
        if mapped is not None and mapped[0] == video_id and start_s - 1 <= mapped[1] < end_s + 1:
            return True
    return False
