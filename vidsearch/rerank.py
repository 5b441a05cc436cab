"""Exact re-ranking of approximate search hits, and shaping moment hits into results.

The vector store answers with approximate neighbours; re-scoring the few hundred it returns
with exact inner products (a flat FAISS index) costs little and fixes their order. The results
are then shown per moment and per video: `dedupe_moments` folds the neighbouring seconds of one
shot into one moment, `group_by_video` keeps the best few moments of each video.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import faiss
import numpy as np

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Hit:
    """One second of one video that answered a query."""

    video_id: str
    second: float
    score: float
    payload: dict = field(default_factory=dict)


@dataclass(frozen=True)
class VideoHits:
    video_id: str
    best_score: float
    moments: list[Hit]  # best first


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


def rerank(query: np.ndarray, vectors: np.ndarray, hits: Sequence[Hit], top_k: int = 10) -> list[list[Hit]]:
    """For each query row, the top_k of `hits` (row i of `vectors` is hit i's vector) by
    exact inner product; the hits come back with that score, best first."""
    if len(vectors) != len(hits):
        raise ValueError(f"{len(vectors)} vectors for {len(hits)} hits")
    scores, indexes = exact_top_k(query, vectors, top_k)
    return [
        [replace(hits[int(i)], score=float(s)) for s, i in zip(row_scores, row_indexes)]
        for row_scores, row_indexes in zip(scores, indexes)
    ]


def dedupe_moments(hits: Sequence[Hit], min_gap_s: float = 2.0) -> list[Hit]:
    """One hit per moment, best first: hits of one video less than or exactly min_gap_s apart,
    in a chain, are one moment, shown by its best-scoring second. Its payload gains
    "span_s": (first second, last second) of the moment."""
    by_video: dict[str, list[Hit]] = {}
    for hit in hits:
        by_video.setdefault(hit.video_id, []).append(hit)
    moments: list[Hit] = []
    for video_hits in by_video.values():
        video_hits.sort(key=lambda h: h.second)
        group = [video_hits[0]]
        for hit in video_hits[1:]:
            if hit.second - group[-1].second <= min_gap_s:
                group.append(hit)
            else:
                moments.append(_moment(group))
                group = [hit]
        moments.append(_moment(group))
    return sorted(moments, key=lambda h: -h.score)


def _moment(group: list[Hit]) -> Hit:
    best = max(group, key=lambda h: h.score)
    return replace(best, payload={**best.payload, "span_s": (group[0].second, group[-1].second)})


def group_by_video(hits: Sequence[Hit], per_video: int = 3) -> list[VideoHits]:
    """Hits grouped per video, each video's best `per_video` first; videos by best score."""
    by_video: dict[str, list[Hit]] = {}
    for hit in sorted(hits, key=lambda h: -h.score):
        by_video.setdefault(hit.video_id, []).append(hit)
    groups = [VideoHits(video_id, moments[0].score, moments[:per_video]) for video_id, moments in by_video.items()]
    return sorted(groups, key=lambda g: -g.best_score)
