"""The model deployments: thin Ray Serve shells over vidsearch's core objects."""

from __future__ import annotations

import asyncio
import logging
import os

import numpy as np
from ray import serve

from vidsearch.config import Settings
from vidsearch.filters import SearchFilters
from vidsearch.results import Match, Moment, TranscriptLine

log = logging.getLogger(__name__)


@serve.deployment
class Embedder:
    """Text and image towers of the semantic model, and the copy descriptor of uploaded clips."""

    def __init__(self, settings: dict):
        from vidsearch.embedders.semantic import ModelUnavailable, SemanticEmbedder, resolve_model

        self.settings = Settings.model_validate(settings)
        self.semantic = None
        self.missing: str | None = None
        if not self.settings.semantic.enabled:
            self.missing = "semantic search is disabled in the configuration (semantic.enabled)"
            return
        try:
            model_dir = resolve_model(self.settings.semantic.model, self.settings.semantic.revision)
            semantic = self.settings.semantic
            # A replica's CPU reservation is a share for scheduling; on CPU the model may use every
            # core when it has work (requests arrive in batches).
            threads = semantic.cpu_threads or os.cpu_count()
            # Between requests ONNX Runtime's threads would spin, holding the cores that the
            # Reranker and the Api need for the rest of the same search.
            self.semantic = SemanticEmbedder(
                model_dir, semantic.device, semantic.runtime, semantic.precision, cpu_threads=threads, spin=False
            )
        except ModelUnavailable as e:
            self.missing = str(e)
            log.warning("%s", e)

    def capabilities(self) -> dict:
        return {
            "semantic": self.semantic is not None, "semantic_reason": self.missing,
            "semantic_runtime": self.semantic.runtimes_used if self.semantic else {},
        }

    def _require_semantic(self):
        if self.semantic is None:
            raise SemanticUnavailable(self.missing or "semantic model unavailable")
        return self.semantic

    @serve.batch(max_batch_size=32, batch_wait_timeout_s=0.005)
    async def embed_text(self, texts: list[str]) -> list[np.ndarray]:
        vectors = await asyncio.to_thread(self._require_semantic().embed_texts, texts)
        return list(vectors)

    @serve.batch(max_batch_size=32, batch_wait_timeout_s=0.005)
    async def embed_image(self, images: list[np.ndarray]) -> list[np.ndarray]:
        semantic = self._require_semantic()
        batch = np.stack([semantic.prepare_image(im) for im in images])
        return list(await asyncio.to_thread(semantic.embed_images, batch))

    def describe_clip(self, data: bytes):  # sync: Serve runs it in its thread pool, off the event loop
        from vidsearch.clips import clip_file, clip_vectors
        from vidsearch.embedders.descriptors import load_descriptor

        descriptor = load_descriptor(self.settings.descriptor)  # a learned one loads on first use, here
        with clip_file(data) as path:
            return clip_vectors(
                path, fps=self.settings.sampling.fps, max_side=self.settings.sampling.max_side,
                max_seconds=self.settings.serve.max_clip_s, descriptor=descriptor,
                fine_fps=self.settings.sampling.clip_fine_fps, fine_max_s=self.settings.sampling.clip_fine_max_s,
            )


class SemanticUnavailable(RuntimeError):
    """Text or image search was asked for without a semantic model."""


@serve.deployment
class Reranker:
    """Exact re-ranking of the store's candidates, and temporal alignment of clips against them."""

    def __init__(self, settings: dict):
        from vidsearch.copy_index import LiveCopyIndex
        from batch_jobs.cluster import cluster_store

        self.settings = Settings.model_validate(settings)
        self.store = cluster_store(self.settings)
        # Loading starts now, so the first clip does not wait for the whole library's vectors.
        self.copy_dim = self.store.copy_size()  # read once: each call of the store is a round trip
        self.copy_index = LiveCopyIndex(self.store, self.settings.copy_snapshot_path,
                                        min_free_mb=self.settings.min_free_mb, dim=self.copy_dim)
        from vidsearch.duplicates import GroupCache

        self.groups = GroupCache()

    def _copies(self, hide: bool):
        return self.groups.get(self.store) if hide else None

    def search(self, vector: np.ndarray, k: int, filters: dict, group: str | None, hide_copies: bool = False,
               ) -> list[Moment]:
        from vidsearch.search import moments

        return moments(self.store, vector, k, SearchFilters(**filters), group, copies=self._copies(hide_copies))

    def search_all(self, vector: np.ndarray | None, q: str, k: int, filters: dict, group: str | None,
                   sources: tuple[str, ...], weights: dict[str, float], method: str, hide_copies: bool = False,
                   ) -> list[Moment]:
        from vidsearch.search import search_all

        return search_all(self.store, vector, q, k, SearchFilters(**filters), group, sources, weights, method,
                          copies=self._copies(hide_copies))

    def similar_scenes(self, video_id: str, start_s: float, end_s: float, k: int, using: str,
                       hide_copies: bool = False) -> list[Moment]:
        from vidsearch.search import similar_scenes

        return similar_scenes(self.store, video_id, start_s, end_s, k, using, copies=self._copies(hide_copies))

    def transcript(self, video_id: str, kind: str | None, q: str | None) -> list[TranscriptLine]:
        from vidsearch.text.query import transcript

        return transcript(self.store, video_id, kind, q)

    def match(self, clip, k: int) -> list[Match]:
        from vidsearch.matching import match_clip

        from vidsearch.store.base import check_size

        check_size("copy", self.copy_dim, clip.descriptor.dim, f"the copy descriptor '{self.settings.descriptor.model}'",
                   "descriptor")
        with self.copy_index.synced() as index:  # with the videos indexed since the last request
            return match_clip(self.store, index, clip, limit=k)


@serve.deployment
class AudioVerifier:
    """Locates the clip's audio in each matched source's stored fingerprint."""

    def __init__(self, settings: dict):
        from batch_jobs.cluster import cluster_store

        self.settings = Settings.model_validate(settings)
        self.store = cluster_store(self.settings)

    def verify(self, data: bytes, matches: list[Match]) -> list[Match]:
        from vidsearch.clips import clip_file, clip_fingerprint
        from vidsearch.matching import verify_audio

        if not matches:
            return matches
        with clip_file(data) as path:
            # The file stays while verifying: a clip played at another speed is fingerprinted again.
            return verify_audio(self.store, clip_fingerprint(path), matches, clip_path=path)
