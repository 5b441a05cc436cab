"""Connecting to Ray: a cluster named by RAY_ADDRESS, a local one already running, or a new one."""

from __future__ import annotations

import logging
import os
from pathlib import Path


def connect_ray() -> None:
    import ray

    if ray.is_initialized():
        return
    quiet = dict(logging_level=logging.WARNING, log_to_driver=False)
    if os.environ.get("RAY_ADDRESS"):
        ray.init(address=os.environ["RAY_ADDRESS"], namespace="vidsearch", **quiet)
        return
    # Joining a local cluster that is already up (the service's) shares its owner of the store.
    if Path("/tmp/ray/ray_current_cluster").exists():
        try:
            ray.init(address="auto", namespace="vidsearch", **quiet)
            return
        except (ConnectionError, RuntimeError):
            pass  # a stale marker: no cluster is running
    ray.init(namespace="vidsearch", include_dashboard=False, **quiet)
