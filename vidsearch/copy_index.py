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

A snapshot (`save`, `load`) keeps the loaded vectors on local disk, so a restarted replica reads
one file instead of the store (a cold sync at a million frames takes ~40 s) and then syncs only
what changed since. It is a cache: versions decide what is current, and a snapshot that cannot be
read is ignored.
"""

from __future__ import annotations

import json
import logging
import os
import struct
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

log = logging.getLogger(__name__)


@dataclass
class _Video:
    start: int  # first row in the index
    seconds: np.ndarray  # (n,) float32, ascending
    version: float | None


SCAN_BLOCK = 1 << 15  # rows per matrix product: 128 queries x 32,768 rows is 16 MB of scores
SNAPSHOT_MAGIC = b"VSCOPY01"
SNAPSHOT_ALIGN = 64  # the arrays start on this boundary, so they can be mapped in place


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

    def save(self, path: Path) -> None:
        """Write the index to `path` in one file, replaced whole: a reader never sees half of it.

        Layout: magic, header length, a JSON header (dim, rows, each video's id, frames and
        version, in row order), then the seconds and the vectors (float32), each aligned."""
        header = json.dumps({
            "dim": self.dim, "rows": len(self),
            "videos": [[v, len(video.seconds), video.version] for v, video in self._videos.items()],
        }).encode()
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
        try:
            with open(partial, "wb") as f:
                f.write(SNAPSHOT_MAGIC + struct.pack("<Q", len(header)) + header)
                f.write(b"\0" * (-f.tell() % SNAPSHOT_ALIGN))
                f.writelines(video.seconds.tobytes() for video in self._videos.values())
                f.write(b"\0" * (-f.tell() % SNAPSHOT_ALIGN))
                if len(self):
                    f.write(memoryview(faiss.rev_swig_ptr(self._index.get_xb(), len(self) * self.dim)))
            os.replace(partial, path)
        finally:
            partial.unlink(missing_ok=True)

    @classmethod
    def load(cls, path: Path, dim: int = 63) -> CopyIndex | None:
        """The index saved at `path`; None, with the reason logged, when there is none or it is
        not a whole snapshot of `dim`-dimensional vectors."""
        try:
            with open(path, "rb") as f:
                if f.read(len(SNAPSHOT_MAGIC)) != SNAPSHOT_MAGIC:
                    raise ValueError("not a copy index snapshot")
                (size,) = struct.unpack("<Q", f.read(8))
                header = json.loads(f.read(size))
                start = -(-f.tell() // SNAPSHOT_ALIGN) * SNAPSHOT_ALIGN
            rows, videos = int(header["rows"]), header["videos"]
            if header["dim"] != dim or sum(n for _, n, _ in videos) != rows:
                raise ValueError(f"snapshot of {header['dim']}-d vectors, {rows} rows")
            vectors_at = -(-(start + rows * 4) // SNAPSHOT_ALIGN) * SNAPSHOT_ALIGN
            if path.stat().st_size != vectors_at + rows * dim * 4:
                raise ValueError("snapshot is cut short")
            seconds = np.fromfile(path, dtype=np.float32, count=rows, offset=start)
            vectors = np.memmap(path, dtype=np.float32, mode="r", offset=vectors_at, shape=(rows, dim)) if rows else None
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, struct.error) as e:
            log.warning("copy index: ignoring the snapshot %s (%s); loading from the store", path, e)
            return None
        index = cls(dim)
        row = 0
        for video_id, n, version in videos:
            index._videos[video_id] = _Video(row, seconds[row : row + n], version)
            row += n
        for begin in range(0, rows, SCAN_BLOCK):  # from the mapped file block by block: one copy in memory
            index._index.add(np.ascontiguousarray(vectors[begin : begin + SCAN_BLOCK]))
        index._owners_stale = True
        return index

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

    def candidates_of(self, groups: list[np.ndarray], per_frame: int = 16, limit: int | list[int] = 8) -> list[list[str]]:
        """`candidates` for each group of query frames, in one search of the index: a flat index
        reads all its vectors once per search, and under 20 queries it scans them once per query.
        `limit`: candidates per group, or one such number for each group."""
        groups = [np.atleast_2d(np.asarray(g, dtype=np.float32)) for g in groups]
        limits = limit if isinstance(limit, list) else [limit] * len(groups)
        if not len(self) or not any(g.size for g in groups):
            return [[] for _ in groups]
        owners = self._owners()
        scores, rows = self._nearest(np.ascontiguousarray(np.vstack(groups)), min(per_frame, len(self)))
        found, start = [], 0
        for group, most in zip(groups, limits):
            s, r = scores[start : start + len(group)], rows[start : start + len(group)]
            start += len(group)
            valid = r >= 0
            votes = np.bincount(owners[r[valid]], weights=np.maximum(s[valid], 0.0), minlength=len(self._order))
            best = np.argsort(-votes, kind="stable")[:most]
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


class LiveCopyIndex:
    """A CopyIndex that follows a store, for one serving replica.

    It starts loading at once, in the background: the snapshot, then what changed in the store
    since; a first clip waits for that instead of starting it. Each use syncs again under a lock
    (a sync moves rows that a match reads, so matches of one replica take turns), and a change is
    saved to the snapshot in the background, at most once per `save_every_s`."""

    def __init__(self, store, snapshot: Path | None = None, save_every_s: float = 60.0, min_free_mb: float = 0,
                 dim: int | None = None):
        self._store = store
        self._snapshot = snapshot
        self._save_every_s = save_every_s
        self._min_free_mb = min_free_mb
        self._index = CopyIndex(dim if dim is not None else store.copy_size())
        self._lock = threading.Lock()
        self._saved_at = float("-inf")
        self._unsaved = False
        self._loading = threading.Thread(target=self._start, name="copy-index-load", daemon=True)
        self._loading.start()

    def _start(self) -> None:
        with self._lock:
            if self._snapshot is not None:
                started = time.perf_counter()
                loaded = CopyIndex.load(self._snapshot, self._index.dim)
                if loaded is not None:
                    self._index = loaded
                    log.info("copy index: %d frames from %s in %.1f s", len(loaded), self._snapshot,
                             time.perf_counter() - started)
            try:
                self._sync()
            except Exception as e:  # the first use syncs again, and reports the failure to its caller
                log.warning("copy index: the first sync failed (%s); retried at the first match", e)
        self._save_if_due()

    def wait_loaded(self, timeout: float | None = None) -> bool:
        self._loading.join(timeout)
        return not self._loading.is_alive()

    def _sync(self) -> None:
        if self._index.sync(self._store):
            self._unsaved = True

    @contextmanager
    def synced(self):
        """The index, synced with the store, held for the caller's use."""
        with self._lock:
            self._sync()
            yield self._index
        self._save_if_due()

    def _save_if_due(self) -> None:
        if self._snapshot is None or not self._unsaved or time.monotonic() - self._saved_at < self._save_every_s:
            return
        self._saved_at = time.monotonic()  # one save at a time: the next waits out the interval
        threading.Thread(target=self.save, name="copy-index-save", daemon=True).start()

    def save(self) -> None:
        """Write the snapshot now. Unsaved changes are not lost either way: the next start finds
        them in the store."""
        from vidsearch.store.space import MB, ensure_free

        with self._lock:
            try:
                ensure_free(self._snapshot.parent, self._min_free_mb + len(self._index) * self._index.dim * 4 / MB,
                            "saving the copy index")
                started = time.perf_counter()
                self._index.save(self._snapshot)
                self._unsaved = False
                log.info("copy index: %d frames saved to %s in %.1f s", len(self._index), self._snapshot,
                         time.perf_counter() - started)
            except Exception as e:  # a cache: the next start loads from the store instead
                log.warning("copy index: not saved to %s (%s)", self._snapshot, e)
