"""The copy vectors of every complete video, in memory, for clip matching.

A clip is matched in two steps: candidate videos (those whose frames are nearest to the clip's
frames), then temporal alignment against each candidate's whole frame sequence. Both need the copy
vectors of the library at hand: asking the store for each clip frame's neighbours and then for each
candidate's frames costs a scan of the store per call in local mode and a round trip per call on a
server. Held here, the neighbours of all the clip's frames are one matrix product (FAISS, exact
inner product over 63-d vectors: ~250 MB and ~0.1 s per million frames for a 30 s clip) and a
candidate's frames are a slice.

The index follows the store: `sync` compares the store's complete videos (id, update time) with
what it holds and loads or drops only the difference, so videos indexed while the service runs
become matchable at the next request, without a restart.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import faiss
import numpy as np

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Video:
    seconds: np.ndarray  # (n,) float32, ascending
    vectors: np.ndarray  # (n, d) float32, unit length
    version: float | None


class CopyIndex:
    def __init__(self, dim: int = 63):
        self.dim = dim
        self._videos: dict[str, _Video] = {}
        self._index: faiss.IndexFlatIP | None = None
        self._row_owner = np.zeros(0, dtype=np.int64)  # row -> position in self._order
        self._order: list[str] = []

    def __len__(self) -> int:
        return sum(len(v.seconds) for v in self._videos.values())

    @property
    def videos(self) -> int:
        return len(self._videos)

    def add(self, video_id: str, seconds: np.ndarray, vectors: np.ndarray, version: float | None = None) -> None:
        order = np.argsort(seconds, kind="stable")
        vectors = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32).reshape(len(order), self.dim)[order])
        self._videos[video_id] = _Video(np.asarray(seconds, dtype=np.float32)[order], vectors, version)
        self._index = None

    def remove(self, video_id: str) -> None:
        if self._videos.pop(video_id, None) is not None:
            self._index = None

    def sync(self, store) -> int:
        """Load complete videos the index lacks or holds an older version of; drop the ones the
        store no longer has complete. Returns how many videos changed."""
        current = store.complete_versions()
        changed = 0
        for video_id in [v for v in self._videos if v not in current]:
            self.remove(video_id)
            changed += 1
        for video_id, version in current.items():
            held = self._videos.get(video_id)
            if held is not None and held.version == version:
                continue
            seconds, vectors = store.frame_vectors(video_id, "copy")
            self.add(video_id, seconds, vectors, version)
            changed += 1
        if changed:
            log.info("copy index: %d videos changed; %d videos, %d frames", changed, self.videos, len(self))
        return changed

    def frames(self, video_id: str) -> tuple[np.ndarray, np.ndarray]:
        """(seconds, vectors) of a video in time order."""
        video = self._videos[video_id]
        return video.seconds, video.vectors

    def candidates(self, queries: np.ndarray, per_frame: int = 16, limit: int = 8) -> list[str]:
        """Videos whose frames are nearest to the query frames, by summed similarity of each query
        frame's `per_frame` nearest frames: only these get aligned."""
        queries = np.ascontiguousarray(np.atleast_2d(np.asarray(queries, dtype=np.float32)))
        if not self._videos or queries.size == 0:
            return []
        index = self._built()
        scores, rows = index.search(queries, min(per_frame, index.ntotal))
        valid = rows >= 0
        owners = self._row_owner[rows[valid]]
        votes = np.bincount(owners, weights=np.maximum(scores[valid], 0.0), minlength=len(self._order))
        best = np.argsort(-votes, kind="stable")[:limit]
        return [self._order[i] for i in best if votes[i] > 0]

    def _built(self) -> faiss.IndexFlatIP:
        if self._index is None:
            self._order = list(self._videos)
            index = faiss.IndexFlatIP(self.dim)
            owners = []
            for position, video_id in enumerate(self._order):
                video = self._videos[video_id]
                index.add(video.vectors)
                owners.append(np.full(len(video.seconds), position, dtype=np.int64))
            self._row_owner = np.concatenate(owners) if owners else np.zeros(0, dtype=np.int64)
            self._index = index
        return self._index
