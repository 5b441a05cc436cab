"""EdgeStore: the embedded default, Qdrant's engine in process (Qdrant Edge) under the data dir.

Edge has no collections: the store is three shards, `frames`, `videos` and `texts`, each a folder under
`data_dir/edge/`, with a small JSON file that records the semantic vector size. `semantic` vectors
are float16 (1.5 KB a frame for 768-d) in a memory-mapped file with an HNSW graph; `copy` vectors
stay on disk with no graph: clip matching searches them in the Reranker's in-memory copy index,
never here.

The shards run without Edge's write-ahead log: with it, every open replayed the log (0.7-3.4 s at
100,000 frames, growing with the library) and writes were 1.4x slower. Durability is per video
instead: frames are flushed before the records that say their videos are complete, within a second
of the write, so a crash loses at most the last second of an index job's work, which the next run
indexes again. Without the log Edge does not lock the folder, so the store
takes an exclusive lock of its own: one process per data dir; inside a Ray cluster one actor owns
the store (`batch_jobs.cluster`).

qdrant-edge-py 0.9 holds the GIL in every shard call: reads from several threads of the owner are
served one after another, each in about a millisecond, and `optimize` (building HNSW over what was
written) stalls the owner while it runs. So the store builds as it goes: after every INDEX_EVERY
frames written, the new frames get their graph (about a minute on two cores), instead of one
build over a whole library at the end (a million frames: an hour and 7.6 GB, docs/benchmarks.md).
Merged segments are bounded in size, so no later build covers the whole library either.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
import time
import uuid
from pathlib import Path

import qdrant_edge as qe
from qdrant_client import models

from vidsearch.config import QdrantSettings
from vidsearch.embedders.copy import DIM as COPY_DIM
from vidsearch.store.base import FRAME_INDEXES, HIT_FIELDS, TEXT_INDEXES, VIDEO_INDEXES, Kind, Point, VideoStore
from vidsearch.store.errors import StoreBusy, StoreError
from vidsearch.store.space import OPEN_FLOOR_MB, ensure_free

log = logging.getLogger(__name__)

FORMAT = 1
SEGMENT_KB = 1_000_000  # ~570,000 frames of 768-d float16 vectors: the largest graph one build makes
LOCK_FILE = ".lock"
FLUSH_EVERY_S = 1.0
INDEX_EVERY = 60_000  # frames written between graph builds: each build stalls the owner ~1 min
WARM_CHUNK = 8 * 2**20
# Payload indexes stay on disk: held in RAM they took 0.4 s to load per 100,000 frames at each open.
_SCHEMA = {
    "keyword": lambda: qe.KeywordIndexParams(memory=qe.Memory.Cold),
    "float": lambda: qe.FloatIndexParams(memory=qe.Memory.Cold),
    "integer": lambda: qe.IntegerIndexParams(lookup=True, range=True, memory=qe.Memory.Cold),
    # Quoted queries filter on the phrase; the words are ranked by the sparse BM25 vectors.
    "text": lambda: qe.TextIndexParams(
        tokenizer=qe.TokenizerType.Word, lowercase=True, phrase_matching=True, memory=qe.Memory.Cold
    ),
}


def frames_config(semantic_dim: int, segments: int = 8, copy_dim: int = COPY_DIM) -> qe.EdgeConfig:
    return qe.EdgeConfig(
        vectors={
            # No quantisation: loading int8 vectors took ~1 s per 30,000 frames at every open.
            "semantic": qe.EdgeVectorParams(
                size=semantic_dim,
                distance=qe.Distance.Cosine,
                datatype=qe.VectorStorageDatatype.Float16,
                memory=qe.Memory.Cached,
            ),
            # Read only by whole-video scans (the Reranker's copy index), so they stay on disk.
            "copy": qe.EdgeVectorParams(
                size=copy_dim,
                distance=qe.Distance.Cosine,
                memory=qe.Memory.Cold,
                hnsw_config=qe.HnswIndexConfig(m=0, ef_construct=64, full_scan_threshold=10000),
            ),
        },
        hnsw_config=qe.HnswIndexConfig(m=16, ef_construct=100, full_scan_threshold=10000),
        # Hits read four payload fields each: from disk that cost 6 ms per search of 50 hits.
        payload_memory=qe.Memory.Cached,
        optimizers=qe.EdgeOptimizersConfig(max_segment_size=SEGMENT_KB, default_segment_number=segments),
        wal_enabled=False,
    )


def videos_config() -> qe.EdgeConfig:
    # Records carry no vectors, but a shard must declare one: an unused sparse vector costs nothing.
    return qe.EdgeConfig(
        sparse_vectors={"unused": qe.EdgeSparseVectorParams()}, payload_memory=qe.Memory.Cached, wal_enabled=False
    )


def texts_config() -> qe.EdgeConfig:
    return qe.EdgeConfig(
        sparse_vectors={"bm25": qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
        payload_memory=qe.Memory.Cached,
        wal_enabled=False,
    )


class EdgeStore(VideoStore):
    engine = "edge"

    def __init__(self, shards: dict[str, qe.EdgeShard], semantic_dim: int, root: Path, lock: int, search_ef: int = 256,
                 min_free_mb: float = 0, copy_dim: int = COPY_DIM):
        super().__init__(semantic_dim, copy_dim)
        self.root = root
        self.min_free_mb = min_free_mb
        self._search = qe.SearchParams(hnsw_ef=search_ef)
        self._shards = shards
        self._lock = lock
        self._flushed_at = time.monotonic()
        self._unindexed = 0  # frames written since the last graph build
        self._warming = threading.Thread()

    @classmethod
    def open(cls, settings: QdrantSettings, root: Path, semantic_dim: int, min_free_mb: float = 0,
             copy_dim: int = COPY_DIM) -> EdgeStore:
        """Open the shards under `root`, creating them sized for `semantic_dim` and `copy_dim` when
        new; an existing store keeps the sizes it was created with. Bulk writes stop while `min_free_mb`
        are left on its disk."""
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StoreError(f"cannot use {root} for the embedded store: {e.strerror}") from None
        ensure_free(root, min(OPEN_FLOOR_MB, min_free_mb / 2), "opening the store")
        meta_file = root / f"{settings.frames_collection}.json"
        if meta_file.exists():
            try:
                meta = json.loads(meta_file.read_text())
                semantic_dim, version = int(meta["semantic_dim"]), meta.get("format")
                copy_dim = int(meta.get("copy_dim", COPY_DIM))  # stores made before learned descriptors
            except (OSError, ValueError, TypeError, KeyError):
                raise StoreError(
                    f"{meta_file} is not a vidsearch store's description: is {root.parent} another "
                    f"program's folder, or damaged? Give vidsearch a data dir of its own (--data-dir)"
                ) from None
            if version != FORMAT:
                raise StoreError(f"{meta_file} is format {version}; this vidsearch reads format {FORMAT}")
        lock = _lock(root, time.monotonic() + settings.lock_wait_s)
        shards: dict[str, qe.EdgeShard] = {}
        try:
            # A store written before text was indexed gets its texts shard here.
            for kind, name, config in (
                ("frames", settings.frames_collection, frames_config(semantic_dim, settings.edge_segments, copy_dim)),
                ("videos", settings.videos_collection, videos_config()),
                ("texts", settings.texts_collection, texts_config()),
            ):
                shards[kind] = _open_shard(root / name, config)
        except BaseException:
            for shard in shards.values():
                shard.close()
            os.close(lock)
            raise
        if not meta_file.exists():
            meta_file.write_text(json.dumps({"format": FORMAT, "semantic_dim": semantic_dim, "copy_dim": copy_dim}))
        store = cls(shards, semantic_dim, root, lock, settings.search_ef, min_free_mb, copy_dim)
        store._ensure_indexes()
        store._warming = threading.Thread(target=_warm, args=(root / settings.frames_collection,), daemon=True)
        store._warming.start()
        return store

    def wait_warm(self, timeout: float | None = None) -> bool:
        """Wait for the background read of the vectors (see `_warm`); whether it is done."""
        self._warming.join(timeout)
        return not self._warming.is_alive()

    def _ensure_indexes(self) -> None:
        for kind, fields in (("frames", FRAME_INDEXES), ("videos", VIDEO_INDEXES), ("texts", TEXT_INDEXES)):
            shard = self._shards[kind]
            have = shard.info().payload_schema
            for name, kind_name in fields.items():
                if name not in have:
                    shard.update(qe.UpdateOperation.create_field_index(name, _SCHEMA[kind_name]()))

    def close(self) -> None:
        if self._lock < 0:
            return
        for shard in self._shards.values():
            shard.flush()
            shard.close()
        os.close(self._lock)  # releases the folder for the next owner
        self._lock = -1

    def optimize(self) -> None:
        ensure_free(self.root, self.min_free_mb, "building the frame index")
        self._unindexed = 0
        self.flush()
        started = time.perf_counter()
        changed = self._shards["frames"].optimize()
        self._shards["videos"].optimize()
        self._shards["texts"].optimize()
        if changed:
            log.info("store: frame indexes built in %.1f s", time.perf_counter() - started)

    def flush(self) -> None:
        """Frames and texts before records: a record on disk never promises points that are not."""
        self._shards["frames"].flush()
        self._shards["texts"].flush()
        self._shards["videos"].flush()
        self._flushed_at = time.monotonic()

    def _flush_soon(self) -> None:
        """Flush at most once a second while an index job writes: each flush costs ~40 ms, which
        would slow writes by a third if every video paid it."""
        if time.monotonic() - self._flushed_at >= FLUSH_EVERY_S:
            self.flush()

    # Durability per video (see above). What an index job writes is flushed within a second, and
    # at the job's end; what a user changes (move, delete) is flushed before the call returns.

    def put_video(self, record) -> None:
        super().put_video(record)
        self._flush_soon()

    def set_status(self, video_id, status, error=None, **fields) -> None:
        super().set_status(video_id, status, error, **fields)
        self._flush_soon()

    def move_video(self, video_id, path) -> None:
        super().move_video(video_id, path)
        self.flush()

    def delete_video(self, video_id) -> None:
        super().delete_video(video_id)
        self.flush()

    # -- primitives -------------------------------------------------------------------------------

    def _upsert(self, kind: Kind, points: list[Point], shared: dict | None = None) -> None:
        if kind != "videos":  # records are small, and finishing or failing a video needs them
            ensure_free(self.root, self.min_free_mb, "writing to the store")
        # UUID objects, not strings: the binding takes them 5x faster.
        point_ids = [uuid.UUID(p.id) for p in points]
        shard = self._shards[kind]
        shard.update(qe.UpdateOperation.upsert_points(
            [qe.Point(i, _vectors(p.vectors), p.payload) for i, p in zip(point_ids, points, strict=True)]
        ))
        if shared:
            # The binding converts a payload field by field, ~8 us each: set once for the batch.
            shard.update(qe.UpdateOperation.set_payload(point_ids, shared))
        if kind == "frames":
            self._unindexed += len(points)
            if self._unindexed >= INDEX_EVERY:
                self.optimize()

    def _retrieve(self, kind: Kind, point_ids: list[str], exclude: list[str]) -> list[Point]:
        payload = qe.PayloadSelector.Exclude(exclude) if exclude else True
        return [Point.from_record(r) for r in self._shards[kind].retrieve(point_ids, payload, False)]

    def _scroll(self, kind, flt, fields, vectors, limit, offset, exclude=None):
        records, next_offset = self._shards[kind].scroll(
            qe.ScrollRequest(
                offset=offset,
                limit=limit,
                filter=to_edge(flt),
                with_payload=_payload(fields, exclude),
                with_vector=vectors or False,
            )
        )
        return [Point.from_record(r) for r in records], None if next_offset is None else str(next_offset)

    def _set_payload(self, kind, payload, point_ids=None, flt=None) -> None:
        if point_ids is not None:
            op = qe.UpdateOperation.set_payload(point_ids, payload)
        else:
            op = qe.UpdateOperation.set_payload_by_filter(to_edge(flt), payload)
        self._shards[kind].update(op)

    def _delete(self, kind, point_ids=None, flt=None) -> None:
        if point_ids is not None:
            op = qe.UpdateOperation.delete_points(point_ids)
        else:
            op = qe.UpdateOperation.delete_points_by_filter(to_edge(flt))
        self._shards[kind].update(op)

    def _count(self, kind, flt) -> int:
        return self._shards[kind].count(qe.CountRequest(filter=to_edge(flt), exact=True))

    def _query(self, vector, using, limit, flt, with_vectors=True) -> list[Point]:
        found = self._shards["frames"].query(
            qe.QueryRequest(
                query=qe.Query.Nearest(vector, using=using),
                filter=to_edge(flt),
                limit=limit,
                params=self._search if using == "semantic" else None,
                with_payload=HIT_FIELDS,
                with_vector=[using] if with_vectors else False,
            )
        )
        return [Point.from_record(p, p.score) for p in found]

    def _query_texts(self, vector, limit, flt) -> list[Point]:
        found = self._shards["texts"].query(
            qe.QueryRequest(
                query=qe.Query.Nearest(qe.SparseVector(vector.indices, vector.values), using="bm25"),
                filter=to_edge(flt),
                limit=limit,
                with_payload=True,
                with_vector=False,
            )
        )
        return [Point.from_record(p, p.score) for p in found]


def _vectors(vectors: dict) -> dict:
    return {
        name: qe.SparseVector(v.indices, v.values) if isinstance(v, models.SparseVector) else v
        for name, v in vectors.items()
    }


def _payload(fields: list[str] | None, exclude: list[str] | None):
    if fields is not None:
        return fields
    return qe.PayloadSelector.Exclude(exclude) if exclude else True


def _warm(shard: Path) -> None:
    """Read the semantic vectors and their graph once, in the background, into the page cache: a
    fresh process otherwise pays a disk read for each vector a search visits (at a million frames,
    search p50 43 ms before this read is done, 12 ms after; it takes ~10 s). Plain file reads,
    which release the GIL; the files are Edge's to lay out, and where none are found nothing
    happens."""
    for path in shard.glob("segments/*/vector_*-semantic/*"):
        try:
            with open(path, "rb", buffering=0) as f:
                while f.read(WARM_CHUNK):
                    pass
        except OSError:
            continue


def _lock(root: Path, deadline: float) -> int:
    """An exclusive lock on the store's folder, waiting until `deadline` for a previous owner that
    is still shutting down. The kernel drops it when the owner dies, however it dies."""
    fd = os.open(root / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(fd)
                raise StoreBusy(
                    f"the embedded store at {root} is open in another process (an index job or "
                    f"the service). Run this through that process's Ray cluster, wait for it to "
                    f"finish, or use a Qdrant server (QDRANT_URL)."
                ) from None
            time.sleep(0.2)


def _open_shard(path: Path, config: qe.EdgeConfig) -> qe.EdgeShard:
    try:
        if (path / "segments").exists():
            return qe.EdgeShard.load(str(path))
        return qe.EdgeShard.create(str(path), config)
    except Exception as e:  # the binding raises plain exceptions
        raise StoreError(
            f"cannot open the embedded store at {path}: {str(e).splitlines()[0]}. The folder is damaged or "
            f"not a vidsearch store; a copy pulled from a server (`vidsearch store pull`), or indexing "
            f"into a new data dir, makes a good one"
        ) from None


def to_edge(flt: models.Filter | None) -> qe.Filter | None:
    """qdrant-client's filter as Edge's: the conditions vidsearch uses (match, match any, range)."""
    if flt is None:
        return None

    def conditions(items) -> list | None:
        if items is None:
            return None
        items = items if isinstance(items, list) else [items]
        return [_condition(c) for c in items]

    return qe.Filter(must=conditions(flt.must), should=conditions(flt.should), must_not=conditions(flt.must_not))


def _condition(cond):
    if isinstance(cond, models.Filter):
        return to_edge(cond)
    if isinstance(cond, models.FieldCondition):
        if isinstance(cond.match, models.MatchValue):
            return qe.FieldCondition(key=cond.key, match=qe.MatchValue(cond.match.value))
        if isinstance(cond.match, models.MatchAny):
            return qe.FieldCondition(key=cond.key, match=qe.MatchAny(list(cond.match.any)))
        if isinstance(cond.match, models.MatchPhrase):
            return qe.FieldCondition(key=cond.key, match=qe.MatchPhrase(cond.match.phrase))
        if isinstance(cond.range, models.Range):
            r = cond.range
            return qe.FieldCondition(key=cond.key, range=qe.RangeFloat(gte=r.gte, gt=r.gt, lte=r.lte, lt=r.lt))
    raise StoreError(f"the embedded store cannot filter on {cond!r}")
