"""Ray's side of the store: connecting to a cluster, and the one owner of the embedded store.

An embedded (Edge) store admits one process per data dir, while an index job and the service's
replicas all need it at once. Inside a Ray cluster it is therefore held by one named, detached actor
per data dir that every process of the cluster reaches by name. The actor is threaded, so that a
search does not wait behind another search or behind an index job's write. With a Qdrant server
there is nothing to own: each process connects directly.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

from vidsearch.config import Settings
from vidsearch.store import StoreBusy, StoreError, VideoStore, open_store, store_engine

log = logging.getLogger(__name__)

NAMESPACE = "vidsearch"
CLUSTER_MARKER = Path("/tmp/ray/ray_current_cluster")  # written by `ray start --head`
OWNER_THREADS = 16  # concurrent calls the owner serves: searches, scans and writes side by side

# The store's public methods, the only ones the owner runs for a caller.
STORE_METHODS = frozenset(
    name for name in dir(VideoStore) if not name.startswith("_") and callable(getattr(VideoStore, name))
)


def local_cluster_running() -> bool:
    return bool(os.environ.get("RAY_ADDRESS")) or CLUSTER_MARKER.exists()


def connect_ray() -> None:
    import ray

    if ray.is_initialized():
        return
    quiet = dict(logging_level=logging.WARNING, log_to_driver=False)
    if os.environ.get("RAY_ADDRESS"):
        ray.init(address=os.environ["RAY_ADDRESS"], namespace=NAMESPACE, **quiet)
        return
    # Joining a local cluster that is already up (the service's) shares its owner of the store.
    if CLUSTER_MARKER.exists():
        try:
            ray.init(address="auto", namespace=NAMESPACE, **quiet)
            return
        except (ConnectionError, RuntimeError):
            pass  # a stale marker: no cluster is running
    ray.init(namespace=NAMESPACE, include_dashboard=False, **quiet)


def cluster_store(settings: Settings) -> VideoStore:
    """The store as a process of a Ray cluster reaches it: a server directly, the embedded store
    through the cluster's owner actor (created by the first process that asks)."""
    if store_engine(settings) == "server":
        return open_store(settings)
    return StoreProxy(_owner_actor(settings))  # type: ignore[return-value]  # same public methods


def store_for_command(settings: Settings) -> VideoStore:
    """The store for a one-off command outside Ray: opened in process, or, when a running cluster
    owns the embedded store, through that cluster's owner."""
    if store_engine(settings) == "server" or not local_cluster_running():
        return open_store(settings)
    try:
        quick = settings.qdrant.model_copy(update={"lock_wait_s": 0.0})
        return open_store(settings, quick)
    except StoreBusy:
        connect_ray()  # a running cluster owns the folder (the service, an index job): ask it
        return cluster_store(settings)


def owner_name(settings: Settings) -> str:
    folder = str(settings.edge_path.resolve())
    return "store-" + hashlib.sha1(folder.encode()).hexdigest()[:12]


def _owner_actor(settings: Settings):
    import ray

    @ray.remote(num_cpus=0, max_restarts=2, max_concurrency=OWNER_THREADS)
    class StoreOwner:
        def __init__(self, settings: Settings):
            self.store = open_store(settings)

        def call(self, method: str, args: tuple, kwargs: dict):
            if method not in STORE_METHODS:
                raise AttributeError(f"the store has no method {method}")
            return getattr(self.store, method)(*args, **kwargs)

    settings = settings.model_copy(update={"data_dir": settings.data_dir.resolve()})
    return StoreOwner.options(
        name=owner_name(settings), namespace=NAMESPACE, lifetime="detached", get_if_exists=True
    ).remote(settings)


class StoreProxy:
    """Calls VideoStore methods on the owning actor and waits for the answer."""

    def __init__(self, actor):
        self._actor = actor

    def __getattr__(self, method: str):
        import ray

        if method not in STORE_METHODS:
            raise AttributeError(method)

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
