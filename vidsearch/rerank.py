"""Exact re-ranking of approximate search hits, and shaping moment hits into results.

The vector store answers with approximate neighbours; re-scoring the few hundred it returns
with exact inner products (a flat FAISS index) costs little and fixes their order. The results
are then shown per moment and per video: `dedupe_moments` folds the neighbouring seconds of one
shot into one moment, `group_by_video` keeps the best few moments of each video.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Generic, Protocol, TypeVar

import faiss
import numpy as np


@dataclass(frozen=True)
class Hit:
    """One second of one video that answered a query."""

    video_id: str
    second: float
    score: float
    payload: dict = field(default_factory=dict)


class Moment(Protocol):
    """What grouping and de-duplication read: a Hit, or the store's FrameHit."""

    @property
    def video_id(self) -> str: ...
    @property
    def second(self) -> float: ...
    @property
    def score(self) -> float: ...


M = TypeVar("M", bound=Moment)


@dataclass(frozen=True)
class VideoHits(Generic[M]):
    video_id: str
    best_score: float
    moments: list[M]  # best first


def exact_top_k(query: np.ndarray, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact inner-product top-k of each query row among `vectors` rows.

    Returns (scores, indexes), both (q, min(k, N)), best first.
    """
    query = np.ascontiguousarray(np.atleast_2d(query), dtype=np.float32)
    vectors = np.ascontiguousarray(np.atleast_2d(vectors), dtype=np.float32)
    k = min(k, len(vectors))
    if k <= 0 or len(query) == 0:
        return np.zeros((len(query), 0), np.float32), np.zeros((len(query), 0), np.int64)
    if query.shape[1] != vectors.shape[1]:
        raise ValueError(f"query has {query.shape[1]} dimensions, candidates {vectors.shape[1]}")
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    scores, indexes = index.search(query, k)
    return scores, indexes


def rerank(
    query: np.ndarray, vectors: np.ndarray, hits: Sequence[M], top_k: int = 10
) -> list[list[M]]:
    """For each query row, the top_k of `hits` (row i of `vectors` is hit i's vector) by
    exact inner product; the hits (dataclasses with a `score`) come back with that score,
    best first."""
    if len(vectors) != len(hits):
        raise ValueError(f"{len(vectors)} vectors for {len(hits)} hits")
    scores, indexes = exact_top_k(query, vectors, top_k)
    return [
        [replace(hits[int(i)], score=float(s)) for s, i in zip(row_scores, row_indexes)]
        for row_scores, row_indexes in zip(scores, indexes)
    ]


def dedupe_moments(hits: Sequence[M], min_gap_s: float = 2.0) -> list[M]:
    """One hit per moment, best first: hits of one video at most min_gap_s apart, in a chain,
    are one moment (the neighbouring seconds of one shot), shown by its best-scoring second."""
    by_video: dict[str, list[M]] = {}
    for hit in hits:
        by_video.setdefault(hit.video_id, []).append(hit)
    moments: list[M] = []
    for video_hits in by_video.values():
        video_hits.sort(key=lambda h: h.second)
        group = [video_hits[0]]
        for hit in video_hits[1:]:
            if hit.second - group[-1].second > min_gap_s:
                moments.append(max(group, key=lambda h: h.score))
                group = []
            group.append(hit)
        moments.append(max(group, key=lambda h: h.score))
    return sorted(moments, key=lambda h: -h.score)


def group_by_video(hits: Sequence[M], per_video: int = 3) -> list[VideoHits[M]]:
    """Hits grouped per video, each video's best `per_video` first; videos by best score."""
    by_video: dict[str, list[M]] = {}
    for hit in sorted(hits, key=lambda h: -h.score):
        by_video.setdefault(hit.video_id, []).append(hit)
    groups = [VideoHits(vid, best[0].score, best[:per_video]) for vid, best in by_video.items()]
    return sorted(groups, key=lambda g: -g.best_score)
