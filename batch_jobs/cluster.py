"""Connecting to Ray: a cluster named by RAY_ADDRESS, a local one already running, or a new one."""

from __future__ import annotations

import logging
import os
from pathlib import Path


CLUSTER_MARKER = Path("/tmp/ray/ray_current_cluster")  # written by `ray start --head`


def local_cluster_running() -> bool:
    return bool(os.environ.get("RAY_ADDRESS")) or CLUSTER_MARKER.exists()


def connect_ray() -> None:
    import ray

    if ray.is_initialized():
        return
    quiet = dict(logging_level=logging.WARNING, log_to_driver=False)
    if os.environ.get("RAY_ADDRESS"):
        ray.init(address=os.environ["RAY_ADDRESS"], namespace="vidsearch", **quiet)
        return
    # Joining a local cluster that is already up (the service's) shares its owner of the store.
    if CLUSTER_MARKER.exists():
        try:
            ray.init(address="auto", namespace="vidsearch", **quiet)
            return
        except (ConnectionError, RuntimeError):
            pass  # a stale marker: no cluster is running
    ray.init(namespace="vidsearch", include_dashboard=False, **quiet)
