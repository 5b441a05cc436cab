"""VideoStore: frame points (named vectors `semantic`, `copy`) and one record per video, in Qdrant.

Local mode (a folder under the data dir) and a Qdrant server behave the same through this class.
Local mode admits one process per folder: see `vidsearch.store.owner` for the single owner.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from qdrant_client import QdrantClient, models

from vidsearch.config import QdrantSettings
from vidsearch.embedders.copy import DIM as COPY_DIM
from vidsearch.store import ids
from vidsearch.store.errors import StoreBusy, StoreError, StoreUnavailable
from vidsearch.store.records import VideoRecord, VideoStatus, parent_dirs

log = logging.getLogger(__name__)

_FRAME_INDEXES = {
    "video_id": models.PayloadSchemaType.KEYWORD,
    "path": models.PayloadSchemaType.KEYWORD,
    "dirs": models.PayloadSchemaType.KEYWORD,
    "second": models.PayloadSchemaType.FLOAT,
    "duration_s": models.PayloadSchemaType.FLOAT,
    "height": models.PayloadSchemaType.INTEGER,
    "codec": models.PayloadSchemaType.KEYWORD,
}
_VIDEO_INDEXES = {
    "path": models.PayloadSchemaType.KEYWORD,
    "checksum": models.PayloadSchemaType.KEYWORD,
    "status": models.PayloadSchemaType.KEYWORD,
}
_NO_FINGERPRINT = models.PayloadSelectorExclude(exclude=["fingerprint"])
_HIT_FIELDS = ["video_id", "path", "second", "frame_index"]


@dataclass(frozen=True)
class FrameHit:
    video_id: str
    path: str
    second: float
    frame_index: int
    score: float

    @classmethod
    def from_point(cls, point) -> FrameHit:
        p = point.payload
        return cls(p["video_id"], p["path"], float(p["second"]), int(p["frame_index"]), float(point.score))


class VideoStore:
    def __init__(self, client: QdrantClient, settings: QdrantSettings, semantic_dim: int, local: bool):
        self.client = client
        self.frames = settings.frames_collection
        self.videos = settings.videos_collection
        self.semantic_dim = semantic_dim
        self.local = local

    @classmethod
    def open(cls, settings: QdrantSettings, local_path: Path, semantic_dim: int) -> VideoStore:
        """Connect to the server in `settings.url`, or open local mode under `local_path`."""
        if settings.url:
            # The reachability check below replaces the client's version probe, which only warns.
            client = QdrantClient(
                url=settings.url, api_key=settings.api_key, timeout=settings.timeout_s, check_compatibility=False
            )
            try:
                client.get_collections()
            except Exception as e:
                raise StoreUnavailable(
                    f"cannot reach Qdrant at {settings.url}: {_first_line(e)}. Check that the server "
                    f"is running and QDRANT_URL is right, or unset QDRANT_URL to use the embedded store."
                ) from None
        else:
            client = _open_local(local_path, settings.lock_wait_s)
        store = cls(client, settings, semantic_dim, local=not settings.url)
        store.ensure_collections()
        return store

    def close(self) -> None:
        self.client.close()

    def vector_size(self) -> int:
        """Size of the `semantic` vectors this store holds."""
        return self.semantic_dim

    def check_semantic_size(self, size: int, model: str) -> None:
        if size != self.semantic_dim:
            raise StoreError(
                f"collection '{self.frames}' holds {self.semantic_dim}-d semantic vectors but "
                f"'{model}' gives {size}-d ones: use another qdrant.frames_collection for this model, "
                f"or the model the collection was built with"
            )

    # -- schema -----------------------------------------------------------------------------------

    def ensure_collections(self) -> None:
        """Create collections and payload indexes if missing; safe to call from every process."""
        if not self.client.collection_exists(self.frames):
            self._create(
                self.frames,
                {
                    "semantic": models.VectorParams(size=self.semantic_dim, distance=models.Distance.COSINE),
                    "copy": models.VectorParams(size=COPY_DIM, distance=models.Distance.COSINE),
                },
            )
        else:
            # An existing collection fixes the size; writers check their model against it.
            have = self.client.get_collection(self.frames).config.params.vectors
            self.semantic_dim = have["semantic"].size
        if not self.client.collection_exists(self.videos):
            self._create(self.videos, {})
        # Local mode ignores payload indexes (it scans); only a server benefits from them.
        if not self.local:
            for collection, fields in ((self.frames, _FRAME_INDEXES), (self.videos, _VIDEO_INDEXES)):
                existing = self.client.get_collection(collection).payload_schema
                for field, kind in fields.items():
                    if field not in existing:
                        self.client.create_payload_index(collection, field, kind, wait=True)

    def _create(self, name: str, vectors: dict) -> None:
        try:
            self.client.create_collection(name, vectors_config=vectors)
        except Exception as e:  # another process created it first
            if not self.client.collection_exists(name):
                raise StoreError(f"cannot create collection {name}: {_first_line(e)}") from None

    # -- videos -----------------------------------------------------------------------------------

    def put_video(self, record: VideoRecord) -> None:
        record.updated_at = time.time()
        self.client.upsert(
            self.videos,
            [models.PointStruct(id=record.video_id, vector={}, payload=record.model_dump(mode="json"))],
            wait=True,
        )

    def get_video(self, video_id: str, with_fingerprint: bool = False) -> VideoRecord | None:
        try:
            found = self.client.retrieve(
                self.videos, [video_id], with_payload=True if with_fingerprint else _NO_FINGERPRINT
            )
        except (ValueError, TypeError):  # not a UUID: no such video
            return None
        return VideoRecord(**found[0].payload) if found else None

    def list_videos(self, status: VideoStatus | None = None, path: str | None = None) -> list[VideoRecord]:
        must = []
        if status:
            must.append(models.FieldCondition(key="status", match=models.MatchValue(value=status)))
        if path:
            must.append(models.FieldCondition(key="path", match=models.MatchValue(value=path)))
        records, offset = [], None
        while True:
            points, offset = self.client.scroll(
                self.videos,
                scroll_filter=models.Filter(must=must) if must else None,
                limit=512,
                offset=offset,
                with_payload=_NO_FINGERPRINT,
            )
            records.extend(VideoRecord(**p.payload) for p in points)
            if offset is None:
                return sorted(records, key=lambda r: r.path)

    def complete_versions(self) -> dict[str, float | None]:
        """{video_id: updated_at} of the complete videos: what an in-memory index compares with."""
        versions, offset = {}, None
        status = models.Filter(must=[models.FieldCondition(key="status", match=models.MatchValue(value="complete"))])
        while True:
            points, offset = self.client.scroll(
                self.videos, scroll_filter=status, limit=1024, offset=offset, with_payload=["updated_at"]
            )
            versions.update({str(p.id): p.payload.get("updated_at") for p in points})
            if offset is None:
                return versions

    def set_status(self, video_id: str, status: VideoStatus, error: str | None = None, **fields) -> None:
        payload = {"status": status, "error": error, "updated_at": time.time(), **fields}
        self.client.set_payload(self.videos, payload, points=[video_id], wait=True)

    def move_video(self, video_id: str, path: str) -> None:
        """Record a new path for a video whose file moved; its frames follow."""
        self.client.set_payload(self.videos, {"path": path}, points=[video_id], wait=True)
        self.client.set_payload(
            self.frames, {"path": path, "dirs": parent_dirs(path)}, points=self._frames_of(video_id), wait=True
        )

    def delete_video(self, video_id: str) -> None:
        self.delete_frames(video_id)
        self.client.delete(self.videos, models.PointIdsList(points=[video_id]), wait=True)

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
        points = []
        for i in range(len(frame_index)):
            vectors = {"copy": copy[i].tolist()}
            if semantic is not None and (has_semantic is None or has_semantic[i]):
                vectors["semantic"] = semantic[i].tolist()
            payload = {**record_payload, "frame_index": int(frame_index[i]), "second": float(second[i])}
            points.append(
                models.PointStruct(id=ids.frame_id(video, int(frame_index[i])), vector=vectors, payload=payload)
            )
        if points:
            self.client.upsert(self.frames, points, wait=True)
        return len(points)

    def search(
        self, vector: np.ndarray, using: str, limit: int, query_filter: models.Filter | None = None
    ) -> tuple[list[FrameHit], np.ndarray]:
        """Nearest frames to `vector` among the `using` vectors ("semantic" or "copy"), with the
        hits' own vectors for exact re-ranking."""
        found = self.client.query_points(
            self.frames,
            query=np.asarray(vector, dtype=np.float32).ravel().tolist(),
            using=using,
            limit=limit,
            query_filter=query_filter,
            with_payload=_HIT_FIELDS,
            with_vectors=[using],
        ).points
        hits = [FrameHit.from_point(p) for p in found]
        return hits, np.array([p.vector[using] for p in found], dtype=np.float32)

    def frame_vectors(self, video_id: str, using: str = "copy") -> tuple[np.ndarray, np.ndarray]:
        """(seconds, vectors) of a video's frames in time order: the input of clip alignment."""
        points, offset, rows = [], None, []
        while True:
            points, offset = self.client.scroll(
                self.frames,
                scroll_filter=self._frames_of(video_id).filter,
                limit=1024,
                offset=offset,
                with_payload=["second"],
                with_vectors=[using],
            )
            rows.extend((p.payload["second"], p.vector[using]) for p in points if using in (p.vector or {}))
            if offset is None:
                break
        rows.sort(key=lambda r: r[0])
        seconds = np.array([r[0] for r in rows], dtype=np.float32)
        vectors = np.array([r[1] for r in rows], dtype=np.float32).reshape(len(rows), -1)
        return seconds, vectors

    def delete_frames(self, video_id: str) -> None:
        self.client.delete(self.frames, self._frames_of(video_id), wait=True)

    def count_frames(self, video_id: str | None = None) -> int:
        flt = self._frames_of(video_id).filter if video_id else None
        return self.client.count(self.frames, count_filter=flt, exact=True).count

    def _frames_of(self, video_id: str) -> models.FilterSelector:
        return models.FilterSelector(
            filter=models.Filter(
                must=[models.FieldCondition(key="video_id", match=models.MatchValue(value=video_id))]
            )
        )

    def stats(self) -> dict:
        by_status = {s: 0 for s in ("complete", "indexing", "failed")}
        seconds = 0.0
        for record in self.list_videos():
            by_status[record.status] += 1
            if record.status == "complete" and record.metadata:
                seconds += record.metadata.duration_s
        return {
            "videos": sum(by_status.values()),
            "complete": by_status["complete"],
            "indexing": by_status["indexing"],
            "failed": by_status["failed"],
            "frames": self.count_frames(),
            "video_hours": round(seconds / 3600, 3),
        }


def _open_local(path: Path, wait_s: float) -> QdrantClient:
    """Open local mode, waiting a little for a previous owner that is still shutting down."""
    path.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return QdrantClient(path=str(path))
        except RuntimeError as e:
            if "already accessed" not in str(e):
                raise
            if time.monotonic() >= deadline:
                raise StoreBusy(
                    f"the embedded store at {path} is open in another process (an index job or "
                    f"the service). Run this through that process's Ray cluster, wait for it to "
                    f"finish, or use a Qdrant server (QDRANT_URL)."
                ) from None
            time.sleep(0.5)


def _first_line(e: Exception) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__
