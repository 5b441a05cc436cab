"""ServerStore: the store on a Qdrant server (`QDRANT_URL`), through qdrant-client.

Three collections: frames, videos and texts. Any `QdrantClient` serves: tests run the same contract against
qdrant-client's local mode as a stand-in for a server, and migration reads old local-mode data dirs
through it.
"""

from __future__ import annotations

import logging

from qdrant_client import QdrantClient, models

from vidsearch.config import QdrantSettings
from vidsearch.embedders.copy import DIM as COPY_DIM
from vidsearch.store.base import FRAME_INDEXES, HIT_FIELDS, TEXT_INDEXES, VIDEO_INDEXES, Kind, Point, VideoStore
from vidsearch.store.errors import StoreError, StoreUnavailable

log = logging.getLogger(__name__)

_SCHEMA = {
    "keyword": models.PayloadSchemaType.KEYWORD,
    "float": models.PayloadSchemaType.FLOAT,
    "integer": models.PayloadSchemaType.INTEGER,
    "text": models.TextIndexParams(
        type=models.TextIndexType.TEXT, tokenizer=models.TokenizerType.WORD, lowercase=True, phrase_matching=True
    ),
}


class ServerStore(VideoStore):
    engine = "server"

    def __init__(self, client: QdrantClient, settings: QdrantSettings, semantic_dim: int, indexes: bool = True,
                 copy_dim: int = COPY_DIM):
        super().__init__(semantic_dim, copy_dim)
        self.client = client
        self._search = models.SearchParams(hnsw_ef=settings.search_ef)
        self._names = {
            "frames": settings.frames_collection,
            "videos": settings.videos_collection,
            "texts": settings.texts_collection,
        }
        self._ensure_collections(indexes)

    @classmethod
    def open(cls, settings: QdrantSettings, semantic_dim: int, create: bool = True, copy_dim: int = COPY_DIM,
             ) -> ServerStore:
        """Connect to the server at `settings.url`; `create=False` for a store that must be there."""
        # The reachability check below replaces the client's version probe, which only warns.
        client = QdrantClient(
            url=settings.url, api_key=settings.api_key, timeout=settings.timeout_s, check_compatibility=False
        )
        try:
            client.get_collections()
        except Exception as e:
            raise StoreUnavailable(
                f"cannot reach Qdrant at {settings.url}: {_first_line(e)}. Check that the server "
                f"is running and the URL is right, or unset QDRANT_URL to use the embedded store."
            ) from None
        if not create and not client.collection_exists(settings.frames_collection):
            raise StoreError(f"{settings.url} holds no vidsearch index (collection {settings.frames_collection})")
        return cls(client, settings, semantic_dim, copy_dim=copy_dim)

    def close(self) -> None:
        self.client.close()

    def _ensure_collections(self, indexes: bool) -> None:
        """Create collections and payload indexes if missing; safe to call from every process."""
        frames, videos = self._names["frames"], self._names["videos"]
        if not self.client.collection_exists(frames):
            self._create(frames, {
                "semantic": models.VectorParams(size=self.semantic_dim, distance=models.Distance.COSINE),
                "copy": models.VectorParams(
                    size=self.copy_dim, distance=models.Distance.COSINE, hnsw_config=models.HnswConfigDiff(m=0)
                ),
            })
        else:
            # An existing collection fixes the size; writers check their model against it.
            config = self.client.get_collection(frames).config
            semantic = config.params.vectors["semantic"]
            self.semantic_dim = semantic.size
            self.copy_dim = config.params.vectors["copy"].size
            # Quantised (by its operator: vidsearch creates none), scores may come from the codes.
            self.exact_scores = config.quantization_config is None and semantic.quantization_config is None
        if not self.client.collection_exists(videos):
            self._create(videos, {})
        texts = self._names["texts"]
        if not self.client.collection_exists(texts):
            self._create(texts, {}, {"bm25": models.SparseVectorParams(modifier=models.Modifier.IDF)})
        if not indexes:  # local mode ignores payload indexes and warns about each
            return
        for collection, fields in ((frames, FRAME_INDEXES), (videos, VIDEO_INDEXES), (texts, TEXT_INDEXES)):
            existing = self.client.get_collection(collection).payload_schema
            for field, kind in fields.items():
                if field not in existing:
                    self.client.create_payload_index(collection, field, _SCHEMA[kind], wait=True)

    def _create(self, name: str, vectors: dict, sparse: dict | None = None) -> None:
        try:
            self.client.create_collection(name, vectors_config=vectors, sparse_vectors_config=sparse)
        except Exception as e:  # another process created it first
            if not self.client.collection_exists(name):
                raise StoreError(f"cannot create collection {name}: {_first_line(e)}") from None

    # -- primitives -------------------------------------------------------------------------------

    def _upsert(self, kind: Kind, points: list[Point], shared: dict | None = None) -> None:
        shared = shared or {}
        structs = [
            models.PointStruct(
                id=p.id, vector={k: _floats(v) for k, v in p.vectors.items()}, payload={**shared, **p.payload}
            )
            for p in points
        ]
        self.client.upsert(self._names[kind], structs, wait=True)

    def _retrieve(self, kind: Kind, point_ids: list[str], exclude: list[str]) -> list[Point]:
        payload = models.PayloadSelectorExclude(exclude=exclude) if exclude else True
        return [Point.from_record(r) for r in self.client.retrieve(self._names[kind], point_ids, with_payload=payload)]

    def _scroll(self, kind, flt, fields, vectors, limit, offset, exclude=None):
        if fields is None:
            payload = models.PayloadSelectorExclude(exclude=exclude) if exclude else True
        else:
            payload = fields
        records, next_offset = self.client.scroll(
            self._names[kind], scroll_filter=flt, limit=limit, offset=offset,
            with_payload=payload, with_vectors=vectors or False,
        )
        return [Point.from_record(r) for r in records], None if next_offset is None else str(next_offset)

    def _set_payload(self, kind, payload, point_ids=None, flt=None) -> None:
        points = point_ids if point_ids is not None else models.FilterSelector(filter=flt)
        self.client.set_payload(self._names[kind], payload, points=points, wait=True)

    def _delete(self, kind, point_ids=None, flt=None) -> None:
        selector = models.PointIdsList(points=point_ids) if point_ids is not None else models.FilterSelector(filter=flt)
        self.client.delete(self._names[kind], selector, wait=True)

    def _count(self, kind, flt) -> int:
        return self.client.count(self._names[kind], count_filter=flt, exact=True).count

    def _query(self, vector, using, limit, flt, with_vectors=True) -> list[Point]:
        found = self.client.query_points(
            self._names["frames"], query=vector, using=using, limit=limit, query_filter=flt,
            search_params=self._search if using == "semantic" else None, with_payload=HIT_FIELDS,
            with_vectors=[using] if with_vectors else False,
        ).points
        return [Point.from_record(p, p.score) for p in found]

    def _query_texts(self, vector, limit, flt) -> list[Point]:
        found = self.client.query_points(
            self._names["texts"], query=vector, using="bm25", limit=limit, query_filter=flt, with_payload=True,
        ).points
        return [Point.from_record(p, p.score) for p in found]


def _floats(vector):
    if isinstance(vector, models.SparseVector):
        return vector
    return vector.tolist() if hasattr(vector, "tolist") else list(vector)


def _first_line(e: Exception) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__
