"""The copy vectors of every complete video, in memory, for clip matching.

A clip is matched in two steps: candidate videos (those whose frames are nearest to the clip's
frames), then temporal alignment against each candidate's whole frame sequence. Both need the copy
vectors of the library at hand: asking the store for each clip frame's neighbours and then for each
candidate's frames would cost a round trip per call. Held here, the neighbours of all the clip's
frames are one exact search (FAISS's for a small library, a block scan for a large one), and a
candidate's frames are a contiguous range of rows.

Memory: the vectors live once, in the FAISS index (float32, 252 bytes a frame: 252 MB per million
frames), each video's rows side by side; a video's frames are read back from its range. float16
storage (FAISS's scalar quantiser) would halve that but searched 4.7x slower on this machine's
benchmark (docs/benchmarks.md), so float32 it is.

The index follows the store: `sync` compares the store's complete videos (id, update time) with
what it holds, drops the difference in place and loads every missing video in one paged pass over
the store. Adding a video appends its rows; removing one shifts the rows after it. Neither rebuilds
the index.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import faiss
import numpy as np

log = logging.getLogger(__name__)


@dataclass
class _Video:
    start: int  # first row in the index
    seconds: np.ndarray  # (n,) float32, ascending
    version: float | None


SCAN_BLOCK = 1 << 15  # rows per matrix product: 128 queries x 32,768 rows is 16 MB of scores


class CopyIndex:
    SCAN_FROM = 1 << 15  # rows from which candidates come from the block scan, not FAISS's search

    def __init__(self, dim: int = 63):
        self.dim = dim
        self._videos: dict[str, _Video] = {}  # in row order
        self._index = faiss.IndexFlatIP(dim)
        self._row_owner = np.zeros(0, dtype=np.int32)  # row -> position in self._order
        self._order: list[str] = []
        self._owners_stale = False

    def __len__(self) -> int:
        return int(self._index.ntotal)

    @property
    def videos(self) -> int:
        return len(self._videos)

    def nbytes(self) -> int:
        """Memory held for the vectors, their seconds and owners."""
        seconds = sum(v.seconds.nbytes for v in self._videos.values())
        return len(self) * self.dim * 4 + seconds + self._row_owner.nbytes

    def add(self, video_id: str, seconds: np.ndarray, vectors: np.ndarray, version: float | None = None) -> None:
        self.remove(video_id)
        order = np.argsort(seconds, kind="stable")
        vectors = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32).reshape(len(order), self.dim)[order])
        self._videos[video_id] = _Video(int(self._index.ntotal), np.asarray(seconds, dtype=np.float32)[order], version)
        self._index.add(vectors)
        self._owners_stale = True

    def remove(self, video_id: str) -> None:
        video = self._videos.pop(video_id, None)
        if video is None:
            return
        n = len(video.seconds)
        if n:
            self._index.remove_ids(faiss.IDSelectorRange(video.start, video.start + n))  # shifts in place
            for other in self._videos.values():
                if other.start > video.start:
                    other.start -= n
        self._owners_stale = True

    def sync(self, store) -> int:
        """Load complete videos the index lacks or holds an older version of; drop the ones the
        store no longer has complete. Returns how many videos changed."""
        current = store.complete_versions()
        gone = [v for v in self._videos if v not in current]
        for video_id in gone:
            self.remove(video_id)
        wanted = {v: version for v, version in current.items() if v not in self._videos or self._videos[v].version != version}
        if wanted:
            self._load(store, wanted)
        changed = len(gone) + len(wanted)
        if changed:
            log.info("copy index: %d videos changed; %d videos, %d frames", changed, self.videos, len(self))
        return changed

    def _load(self, store, wanted: dict[str, float | None]) -> None:
        """One paged pass over the wanted videos' frames; pages mix videos, so rows are gathered
        per video and added once the pass is over."""
        parts: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {v: [] for v in wanted}
        offset = None
        while True:
            page = store.copy_page(list(wanted), offset)
            for position, video_id in enumerate(page.video_ids):
                rows = page.owner == position
                parts[video_id].append((page.seconds[rows], page.vectors[rows]))
            offset = page.next_offset
            if offset is None:
                break
        for video_id in list(parts):
            chunks = parts.pop(video_id)  # freed as it goes: the pass never holds the library twice
            if chunks:
                seconds = np.concatenate([c[0] for c in chunks])
                vectors = np.concatenate([c[1] for c in chunks])
            else:
                seconds, vectors = np.zeros(0, np.float32), np.zeros((0, self.dim), np.float32)
            self.add(video_id, seconds, vectors, wanted[video_id])

    def frames(self, video_id: str) -> tuple[np.ndarray, np.ndarray]:
        """(seconds, vectors) of a video in time order."""
        video = self._videos[video_id]
        n = len(video.seconds)
        vectors = self._index.reconstruct_n(video.start, n) if n else np.zeros((0, self.dim), np.float32)
        return video.seconds, vectors

    def candidates(self, queries: np.ndarray, per_frame: int = 16, limit: int = 8) -> list[str]:
        """Videos whose frames are nearest to the query frames, by summed similarity of each query
        frame's `per_frame` nearest frames: only these get aligned."""
        return self.candidates_of([queries], per_frame, limit)[0]

    def candidates_of(self, groups: list[np.ndarray], per_frame: int = 16, limit: int = 8) -> list[list[str]]:
        """`candidates` for each group of query frames, in one search of the index: a flat index
        reads all its vectors once per search, and under 20 queries it scans them once per query."""
        groups = [np.atleast_2d(np.asarray(g, dtype=np.float32)) for g in groups]
        if not len(self) or not any(g.size for g in groups):
            return [[] for _ in groups]
        owners = self._owners()
        scores, rows = self._nearest(np.ascontiguousarray(np.vstack(groups)), min(per_frame, len(self)))
        found, start = [], 0
        for group in groups:
            s, r = scores[start : start + len(group)], rows[start : start + len(group)]
            start += len(group)
            valid = r >= 0
            votes = np.bincount(owners[r[valid]], weights=np.maximum(s[valid], 0.0), minlength=len(self._order))
            best = np.argsort(-votes, kind="stable")[:limit]
            found.append([self._order[i] for i in best if votes[i] > 0])
        return found

    def _nearest(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Each query's k nearest rows (scores, rows), exactly. FAISS's flat search spends most of
        its time choosing the k best, about 10 ns per query and row on this machine's CPU; from
        SCAN_FROM rows on, a matrix product over blocks of rows with torch's top-k gives the same
        rows about four times faster (docs/benchmarks.md)."""
        if len(self) < self.SCAN_FROM:
            return self._index.search(queries, k)
        import torch

        n = len(self)
        rows = torch.from_numpy(faiss.rev_swig_ptr(self._index.get_xb(), n * self.dim).reshape(n, self.dim))
        probes = torch.from_numpy(queries)
        best_s = best_i = None
        with torch.inference_mode():
            for start in range(0, n, SCAN_BLOCK):
                block = rows[start : start + SCAN_BLOCK]
                s, i = torch.topk(probes @ block.T, min(k, len(block)), dim=1)
                i += start
                if best_s is not None:
                    s, pick = torch.topk(torch.cat([best_s, s], 1), k, dim=1)
                    i = torch.gather(torch.cat([best_i, i], 1), 1, pick)
                best_s, best_i = s, i
        return best_s.numpy(), best_i.numpy()

    def _owners(self) -> np.ndarray:
        if self._owners_stale:
            self._order = list(self._videos)
            owners = np.empty(len(self), dtype=np.int32)
            for position, video in enumerate(self._videos.values()):
                owners[video.start : video.start + len(video.seconds)] = position
            self._row_owner = owners
            self._owners_stale = False
        return self._row_owner
