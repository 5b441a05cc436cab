"""Which store a process opens, decided by its settings alone."""

from __future__ import annotations

from typing import Literal

from vidsearch.config import QdrantSettings, Settings
from vidsearch.store.base import VideoStore

StoreEngine = Literal["edge", "server"]


def store_engine(settings: Settings) -> StoreEngine:
    return "server" if settings.qdrant.url else "edge"


def open_store(settings: Settings, qdrant: QdrantSettings | None = None) -> VideoStore:
    """The store of `settings`, opened in this process: a Qdrant server when `qdrant.url` is set,
    else the embedded Edge store under the data dir (migrated first from an older local-mode data
    dir, when that is what the data dir holds). `qdrant` overrides `settings.qdrant`."""
    qdrant = qdrant or settings.qdrant
    if qdrant.url:
        from vidsearch.store.server import ServerStore

        return ServerStore.open(qdrant, settings.semantic.dim, copy_dim=settings.descriptor.dim)
    from vidsearch.store.edge import EdgeStore
    from vidsearch.store.migrate import needs_migration, migrate_local

    if needs_migration(settings):
        migrate_local(settings)
    return EdgeStore.open(qdrant, settings.edge_path, settings.semantic.dim, settings.min_free_mb,
                          settings.descriptor.dim)
