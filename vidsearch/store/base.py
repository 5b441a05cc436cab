"""The store contract: frame points (named vectors `semantic`, `copy`), one record per video, and
text points (segments of transcripts and subtitles, with a sparse `bm25` vector).

`VideoStore` holds everything the rest of vidsearch asks of a store, written once over a handful
of primitives (upsert, retrieve, scroll, set payload, delete, count, query) that each engine
implements: `EdgeStore` (Qdrant Edge, in process, the embedded default) and `ServerStore` (a
Qdrant server through qdrant-client). Filters are qdrant-client's `models.Filter` on both sides, so
callers build one filter language; the Edge implementation translates it.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from qdrant_client import models

from vidsearch.embedders.copy import DIM as COPY_DIM
from vidsearch.results import StoreStats
from vidsearch.store import ids
from vidsearch.store.errors import StoreError
from vidsearch.store.records import VideoRecord, VideoStatus, parent_dirs
from vidsearch.text import bm25
from vidsearch.text.segments import TextSegment

Kind = Literal["frames", "videos", "texts"]

# Payload fields searches filter on; both engines index them.
# Each index costs memory and time at every open (~0.1 s per million frames on Edge): only these.
FRAME_INDEXES = {"video_id": "keyword", "dirs": "keyword", "duration_s": "float", "height": "integer", "codec": "keyword"}
VIDEO_INDEXES = {"path": "keyword", "checksum": "keyword", "status": "keyword"}
# Text points carry the frames' filter fields, so one SearchFilters narrows both.
TEXT_INDEXES = {**FRAME_INDEXES, "kind": "keyword", "origin": "keyword", "text": "text"}
HIT_FIELDS = ["video_id", "path", "second", "frame_index"]
NO_FINGERPRINT = ["fingerprint"]  # the largest field of a record, read only by audio verification
LISTED = ["fingerprint", "scenes"]  # a list of videos carries neither: a record is read for them
COPY_PAGE = 16384  # frames per page of a copy-vector scan: ~4 MB of vectors


@dataclass
class Point:
    id: str
    payload: dict = field(default_factory=dict)
    vectors: dict[str, np.ndarray] = field(default_factory=dict)
    score: float = 0.0

    @classmethod
    def from_record(cls, record, score: float = 0.0) -> Point:
        """A record or scored point of either client (both have `id`, `payload`, `vector`);
        sparse vectors become qdrant-client's `SparseVector` whichever engine gave them."""
        vectors = dict(record.vector) if isinstance(record.vector, dict) else {}
        for name, v in vectors.items():
            if hasattr(v, "indices") and not isinstance(v, models.SparseVector):
                vectors[name] = models.SparseVector(indices=list(v.indices), values=list(v.values))
        return cls(str(record.id), record.payload or {}, vectors, score)


@dataclass(frozen=True)
class FrameHit:
    video_id: str
    path: str
    second: float
    frame_index: int
    score: float

    @classmethod
    def from_point(cls, point: Point) -> FrameHit:
        p = point.payload
        return cls(p["video_id"], p["path"], float(p["second"]), int(p["frame_index"]), float(point.score))


@dataclass
class CopyPage:
    """One page of a scan over copy vectors: rows of several videos, in no particular order."""

    video_ids: list[str]  # the distinct videos of this page
    owner: np.ndarray  # (n,) int32, position in video_ids of each row
    seconds: np.ndarray  # (n,) float32
    vectors: np.ndarray  # (n, copy_dim) float32
    next_offset: str | None  # None: the scan is done


@dataclass(frozen=True)
class TextHit:
    video_id: str
    path: str
    source: str  # "speech" or "subtitle:<lang>"
    segment: TextSegment
    score: float

    @classmethod
    def from_point(cls, point: Point) -> TextHit:
        p = point.payload
        return cls(p["video_id"], p["path"], p["source"], TextSegment.from_payload(p), float(point.score))


def match(key: str, value) -> models.FieldCondition:
    return models.FieldCondition(key=key, match=models.MatchValue(value=value))


def frames_of(video_id: str) -> models.Filter:
    return models.Filter(must=[match("video_id", video_id)])


def check_size(kind: str, held: int, size: int, maker: str, what: str) -> None:
    """StoreError unless vectors of `size` (made by `maker`, a `what`) fit the store's `held`-d `kind` ones."""
    if size != held:
        raise StoreError(
            f"the store holds {held}-d {kind} vectors but {maker} gives {size}-d ones: use another data dir "
            f"(or qdrant.frames_collection) for this {what}, or the {what} the store was built with"
        )


class VideoStore(ABC):
    """What vidsearch keeps in Qdrant, whatever the engine."""

    engine: str  # "edge" or "server": for messages and /health
    # Whether search scores are computed on the stored vectors themselves, so that re-scoring the
    # hits could not change their order. Not where an operator quantised the collection.
    exact_scores: bool = True

    def __init__(self, semantic_dim: int, copy_dim: int = COPY_DIM):
        self.semantic_dim = semantic_dim
        self.copy_dim = copy_dim  # the copy descriptor's (embedders.descriptors): 63 for the default

    # -- primitives, one per engine ---------------------------------------------------------------

    @abstractmethod
    def _upsert(self, kind: Kind, points: list[Point], shared: dict | None = None) -> None:
        """Write `points`, each of which also gets the payload fields in `shared`."""

    @abstractmethod
    def _retrieve(self, kind: Kind, point_ids: list[str], exclude: list[str]) -> list[Point]:
        """Points by id with their payload less `exclude`; unknown ids are left out."""

    @abstractmethod
    def _scroll(
        self, kind: Kind, flt: models.Filter | None, fields: list[str] | None, vectors: list[str],
        limit: int, offset: str | None, exclude: list[str] | None = None,
    ) -> tuple[list[Point], str | None]:
        """A page of points matching `flt` and the next offset; payload `fields`, or with None
        every field but `exclude`."""

    @abstractmethod
    def _set_payload(self, kind: Kind, payload: dict, point_ids: list[str] | None = None,
                     flt: models.Filter | None = None) -> None: ...

    @abstractmethod
    def _delete(self, kind: Kind, point_ids: list[str] | None = None, flt: models.Filter | None = None) -> None: ...

    @abstractmethod
    def _count(self, kind: Kind, flt: models.Filter | None) -> int: ...

    @abstractmethod
    def _query(self, vector: list[float], using: str, limit: int, flt: models.Filter | None,
               with_vectors: bool = True) -> list[Point]:
        """Nearest frames with HIT_FIELDS and, `with_vectors`, their `using` vector."""

    @abstractmethod
    def _query_texts(self, vector: models.SparseVector, limit: int, flt: models.Filter | None) -> list[Point]:
        """Text points by BM25 score against `vector`, with their payload."""

    @abstractmethod
    def close(self) -> None: ...

    def optimize(self) -> None:
        """Build indexes for what was written; an engine that does this by itself needs nothing."""

    # -- schema -----------------------------------------------------------------------------------

    def vector_size(self) -> int:
        """Size of the `semantic` vectors this store holds."""
        return self.semantic_dim

    def check_semantic_size(self, size: int, model: str) -> None:
        check_size("semantic", self.semantic_dim, size, f"'{model}'", "model")

    def copy_size(self) -> int:
        """Size of the `copy` vectors this store holds (a method: the cluster's proxy forwards methods)."""
        return self.copy_dim

    def check_copy_size(self, size: int, descriptor: str) -> None:
        check_size("copy", self.copy_dim, size, f"the copy descriptor '{descriptor}'", "descriptor")

    # -- videos -----------------------------------------------------------------------------------

    def put_video(self, record: VideoRecord) -> None:
        record.updated_at = time.time()
        self._upsert("videos", [Point(record.video_id, record.model_dump(mode="json"))])

    def get_video(self, video_id: str, with_fingerprint: bool = False) -> VideoRecord | None:
        if not ids.is_uuid(video_id):
            return None
        found = self._retrieve("videos", [video_id], [] if with_fingerprint else NO_FINGERPRINT)
        return VideoRecord(**found[0].payload) if found else None

    def list_videos(self, status: VideoStatus | None = None, path: str | None = None) -> list[VideoRecord]:
        must = [match("status", status)] if status else []
        if path:
            must.append(match("path", path))
        flt = models.Filter(must=must) if must else None
        records = [VideoRecord(**p.payload) for p in self._scan("videos", flt, None, exclude=LISTED)]
        return sorted(records, key=lambda r: r.path)

    def complete_versions(self) -> dict[str, float | None]:
        """{video_id: updated_at} of the complete videos: what an in-memory index compares with."""
        points = self._scan("videos", models.Filter(must=[match("status", "complete")]), ["updated_at"])
        return {p.id: p.payload.get("updated_at") for p in points}

    def set_status(self, video_id: str, status: VideoStatus, error: str | None = None, **fields) -> None:
        payload = {"status": status, "error": error, "updated_at": time.time(), **fields}
        self._set_payload("videos", payload, point_ids=[video_id])

    def set_texts(self, video_id: str, texts: dict) -> None:
        """Record what each origin of the video's text gave (see records.TextState)."""
        states = {k: v.model_dump(mode="json") if hasattr(v, "model_dump") else v for k, v in texts.items()}
        self._set_payload("videos", {"texts": states}, point_ids=[video_id])

    def set_copies(self, video_id: str, copies: list[dict]) -> None:
        """Record a video's links to its copies (records.CopyLink), its version left as it is:
        nothing about its frames changed."""
        self._set_payload("videos", {"copies": copies}, point_ids=[video_id])

    def move_video(self, video_id: str, path: str) -> None:
        """Record a new path for a video whose file moved; its frames follow."""
        self._set_payload("videos", {"path": path}, point_ids=[video_id])
        self._set_payload("frames", {"path": path, "dirs": parent_dirs(path)}, flt=frames_of(video_id))
        self._set_payload("texts", {"path": path, "dirs": parent_dirs(path)}, flt=frames_of(video_id))

    def delete_video(self, video_id: str) -> None:
        self.delete_frames(video_id)
        self.delete_texts(video_id)
        self._delete("videos", point_ids=[video_id])

    # -- frames -----------------------------------------------------------------------------------

    def upsert_frames(
        self,
        record_payload: dict,
        frame_index: np.ndarray,
        second: np.ndarray,
        copy: np.ndarray,
        semantic: np.ndarray | None = None,
        has_semantic: np.ndarray | None = None,
    ) -> int:
        """Write frame points of one video; a frame without semantic vector gets `copy` only."""
        video = record_payload["video_id"]
        # Lists of floats, converted once per batch: both clients read them faster than arrays.
        copy = np.asarray(copy, dtype=np.float32).tolist()
        semantic = None if semantic is None else np.asarray(semantic, dtype=np.float32).tolist()
        # A hit's own fields go with each point; the video's filter fields are given once per
        # batch, which Edge writes in one operation (per point they were half the cost of a write).
        own = {key: record_payload[key] for key in ("video_id", "path")}
        shared = {key: value for key, value in record_payload.items() if key not in own}
        points = []
        for i, index in enumerate(np.asarray(frame_index).tolist()):
            vectors = {"copy": copy[i]}
            if semantic is not None and (has_semantic is None or has_semantic[i]):
                vectors["semantic"] = semantic[i]
            payload = {**own, "frame_index": index, "second": float(second[i])}
            points.append(Point(ids.frame_id(video, index), payload, vectors))
        if points:
            self._upsert("frames", points, shared)
        return len(points)

    def search(
        self, vector: np.ndarray, using: str, limit: int, query_filter: models.Filter | None = None,
        with_vectors: bool = True,
    ) -> tuple[list[FrameHit], np.ndarray | None]:
        """Nearest frames to `vector` among the `using` vectors ("semantic" or "copy"), best first,
        with the hits' own vectors for exact re-ranking (None without `with_vectors`: a million-frame
        search spends ~5 ms turning 50 semantic vectors into Python floats and back)."""
        found = self._query(np.asarray(vector, dtype=np.float32).ravel().tolist(), using, limit, query_filter,
                            with_vectors)
        hits = [FrameHit.from_point(p) for p in found]
        if not with_vectors:
            return hits, None
        size = self.semantic_dim if using == "semantic" else self.copy_dim
        return hits, np.array([p.vectors[using] for p in found], dtype=np.float32).reshape(len(found), size)

    def frame_vectors(self, video_id: str, using: str = "copy") -> tuple[np.ndarray, np.ndarray]:
        """(seconds, vectors) of a video's frames in time order: the input of clip alignment."""
        rows = [
            (p.payload["second"], p.vectors[using])
            for p in self._scan("frames", frames_of(video_id), ["second"], vectors=[using])
            if using in p.vectors
        ]
        rows.sort(key=lambda r: r[0])
        seconds = np.array([r[0] for r in rows], dtype=np.float32)
        vectors = np.array([r[1] for r in rows], dtype=np.float32).reshape(len(rows), -1)
        return seconds, vectors

    def copy_page(self, video_ids: list[str], offset: str | None = None, limit: int = COPY_PAGE) -> CopyPage:
        """A page of the copy vectors of `video_ids`: pages until `next_offset` is None are one
        pass over those videos' frames, however many videos they are."""
        flt = models.Filter(must=[models.FieldCondition(key="video_id", match=models.MatchAny(any=list(video_ids)))])
        points, next_offset = self._scroll("frames", flt, ["video_id", "second"], ["copy"], limit, offset)
        points = [p for p in points if "copy" in p.vectors]
        positions: dict[str, int] = {}
        owner = np.array([positions.setdefault(p.payload["video_id"], len(positions)) for p in points], dtype=np.int32)
        return CopyPage(
            video_ids=list(positions),
            owner=owner,
            seconds=np.array([p.payload["second"] for p in points], dtype=np.float32),
            vectors=np.array([p.vectors["copy"] for p in points], dtype=np.float32).reshape(len(points), self.copy_dim),
            next_offset=next_offset,
        )

    def delete_frames(self, video_id: str) -> None:
        self._delete("frames", flt=frames_of(video_id))

    def count_frames(self, video_id: str | None = None) -> int:
        return self._count("frames", frames_of(video_id) if video_id else None)

    def stats(self) -> StoreStats:
        by_status = {s: 0 for s in ("complete", "indexing", "failed")}
        seconds = 0.0
        for record in self.list_videos():
            by_status[record.status] += 1
            if record.status == "complete" and record.metadata:
                seconds += record.metadata.duration_s
        return StoreStats(videos=sum(by_status.values()), **by_status, frames=self.count_frames(),
                          video_hours=round(seconds / 3600, 3))

    # -- text -------------------------------------------------------------------------------------

    def replace_texts(
        self, record_payload: dict, origin: str, source: str, segments: list[TextSegment], lang: str | None
    ) -> int:
        """The segments of one origin of a video's text ("speech", "file:<sidecar>", "track:<n>"),
        replacing what that origin gave before. `source` is what searches name: "speech" or
        "subtitle:<lang>"; `record_payload` the video's frame payload, for the same filters."""
        video_id = record_payload["video_id"]
        self.delete_texts(video_id, origin=origin)
        kind = "speech" if source == "speech" else "subtitle"
        base = {**record_payload, "source": source, "kind": kind, "origin": origin, "lang": lang}
        points = [
            Point(ids.text_id(video_id, origin, i), {**base, **seg.as_payload()}, {"bm25": bm25.document(seg.text)})
            for i, seg in enumerate(segments)
        ]
        for first in range(0, len(points), 512):
            self._upsert("texts", points[first : first + 512])
        return len(points)

    def delete_texts(self, video_id: str, origin: str | None = None) -> None:
        flt = frames_of(video_id)
        if origin:
            flt.must.append(match("origin", origin))
        self._delete("texts", flt=flt)

    def texts_of(self, video_id: str, kind: str | None = None) -> list[TextHit]:
        """A video's text segments in time order: all, or of one kind ("speech", "subtitle")."""
        flt = frames_of(video_id)
        if kind:
            flt.must.append(match("kind", kind))
        hits = [TextHit.from_point(p) for p in self._scan("texts", flt, None)]
        return sorted(hits, key=lambda h: (h.segment.start, h.source))

    def search_texts(
        self, query: str, limit: int, query_filter: models.Filter | None = None, phrase: str | None = None
    ) -> list[TextHit]:
        """Segments by BM25 score for the words of `query`; with `phrase`, only segments that
        hold those words in a row."""
        vector = bm25.query(query)
        if not vector.indices:
            return []  # only stop words: nothing to rank by
        if phrase:
            must = [models.FieldCondition(key="text", match=models.MatchPhrase(phrase=phrase))]
            query_filter = models.Filter(must=must + ([query_filter] if query_filter else []))
        return [TextHit.from_point(p) for p in self._query_texts(vector, limit, query_filter)]

    def count_texts(self, video_id: str | None = None) -> int:
        return self._count("texts", frames_of(video_id) if video_id else None)

    # -- whole-store copies (migrate, push, pull) -----------------------------------------------

    def export_points(self, kind: Kind, page: int = 1024) -> Iterator[list[Point]]:
        """Every point of `kind` with its payload and vectors, a page at a time."""
        offset = None
        vectors = {"frames": ["semantic", "copy"], "texts": ["bm25"]}.get(kind, [])
        while True:
            points, offset = self._scroll(kind, None, None, vectors, page, offset)
            if points:
                yield points
            if offset is None:
                return

    def import_points(self, kind: Kind, points: list[Point]) -> None:
        self._upsert(kind, points)

    def _scan(self, kind: Kind, flt, fields, vectors: list[str] | None = None, exclude=None) -> Iterator[Point]:
        offset = None
        while True:
            points, offset = self._scroll(kind, flt, fields, vectors or [], 1024, offset, exclude)
            yield from points
            if offset is None:
                return
