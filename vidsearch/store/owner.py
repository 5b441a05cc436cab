"""One owner of the embedded store.

Local-mode Qdrant admits one process per folder, while an index job and the service both need the
store at once. Inside Ray, the store is therefore held by one named, detached actor per data dir;
every process of the cluster (job driver, Serve replicas) reaches it by name. With a Qdrant server
there is nothing to own and each process connects directly. Outside Ray, the folder is opened in
process (tests, one-off CLI commands).
"""

from __future__ import annotations

import hashlib
from typing import Any

from vidsearch.config import Settings
from vidsearch.store.errors import StoreBusy, StoreError
from vidsearch.store.qdrant import VideoStore

NAMESPACE = "vidsearch"


def open_store(settings: Settings) -> Any:
    """A VideoStore, or a proxy with the same methods when a Ray actor owns the folder."""
    if settings.qdrant.url:
        return VideoStore.open(settings.qdrant, settings.qdrant_path, settings.semantic.dim)
    import ray

    if not ray.is_initialized():
        from vidsearch.ray_cluster import connect_ray, local_cluster_running

        if not local_cluster_running():
            return VideoStore.open(settings.qdrant, settings.qdrant_path, settings.semantic.dim)
        # A running cluster may own the folder (the service, an index job): ask it rather than wait.
        try:
            quick = settings.qdrant.model_copy(update={"lock_wait_s": 0.0})
            return VideoStore.open(quick, settings.qdrant_path, settings.semantic.dim)
        except StoreBusy:
            connect_ray()
    return StoreProxy(_owner_actor(settings))


def owner_name(settings: Settings) -> str:
    folder = str(settings.qdrant_path.resolve())
    return "store-" + hashlib.sha1(folder.encode()).hexdigest()[:12]


def _owner_actor(settings: Settings):
    import ray

    @ray.remote(num_cpus=0, max_restarts=2)
    class StoreOwner:
        def __init__(self, settings: Settings):
            self.store = VideoStore.open(settings.qdrant, settings.qdrant_path, settings.semantic.dim)

        def call(self, method: str, args: tuple, kwargs: dict):
            return getattr(self.store, method)(*args, **kwargs)

    actor = StoreOwner.options(
        name=owner_name(settings), namespace=NAMESPACE, lifetime="detached", get_if_exists=True
    ).remote(settings.model_copy(update={"data_dir": settings.data_dir.resolve()}))
    return actor


class StoreProxy:
    """Calls VideoStore methods on the owning actor and waits for the answer."""

    def __init__(self, actor):
        self._actor = actor

    def __getattr__(self, method: str):
        import ray

        def call(*args, **kwargs):
            try:
                return ray.get(self._actor.call.remote(method, args, kwargs))
            except ray.exceptions.RayTaskError as e:
                raise e.as_instanceof_cause() from None
            except ray.exceptions.RayActorError as e:
                raise StoreError(f"the embedded store's owner is not running: {e}") from None

        return call

    def close(self) -> None:
        pass  # the actor keeps the store open for the other processes of the cluster
