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
import socket
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


RAY_TOKEN = Path.home() / ".ray" / "auth_token"  # where `ray start` keeps a cluster's token


def with_ray_auth(env: dict) -> dict:
    """`env` for a process that starts or joins a local cluster. A head started while Ray keeps a
    token requires it, but clients send it only when told (RAY_AUTH_MODE=token): unless the user
    chose a mode, they are told whenever there is a token."""
    if "RAY_AUTH_MODE" not in env and RAY_TOKEN.exists():
        return {**env, "RAY_AUTH_MODE": "token"}
    return env


def head_env(bin_dir: Path) -> dict:
    """The environment of a local head this environment starts. Ray runs a job's entrypoint
    (`python -m ...`) with the head's PATH, so `bin_dir` goes first on it: a head started from a
    virtualenv that was not activated would run jobs with the system's Python."""
    return with_ray_auth({**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"})


class ClusterError(RuntimeError):
    """A local Ray cluster could not be started."""


def recorded_cluster() -> str | None:
    """The address of the local cluster `ray start --head` last recorded, if any."""
    try:
        return CLUSTER_MARKER.read_text().strip() or None
    except OSError:
        return None


def cluster_alive(address: str, timeout_s: float = 2.0) -> bool:
    """Whether anything answers at a cluster's GCS address. A head that was killed (kill -9, the
    OOM killer, a supervisor stopping its process group) leaves its record behind, and Ray then
    waits on it without end."""
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout_s):
            return True
    except (OSError, ValueError):
        return False


def running_local_cluster() -> str | None:
    """The address of a live local cluster recorded by `ray start`; None when there is none, or
    only the record of a dead one."""
    address = recorded_cluster()
    return address if address and cluster_alive(address) else None


def start_head(bin_dir: Path, env: dict, timeout_s: float = 120.0):
    """A local head for one command: (its process, its address). It runs in the foreground of its
    own session (`ray start --block`), so that stopping that one process (`stop_head`) stops this
    cluster's processes and no other's, and the terminal's Ctrl-C reaches the service first."""
    import subprocess
    import time

    port = _free_port()
    before = recorded_cluster()
    head = subprocess.Popen(
        [str(bin_dir / "ray"), "start", "--head", "--block", f"--port={port}", "--disable-usage-stats",
         "--include-dashboard=false"],
        # On SIGTERM a head first drains its node, for up to 30 s, so that Serve can move replicas
        # away; the command has stopped its service by then and there is nowhere to move them to.
        env={**env, "RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0"},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if head.poll() is not None:
            raise ClusterError(f"cannot start a local Ray cluster: {head.stderr.read().decode(errors='replace')[-2000:]}")
        address = recorded_cluster()
        if address and address != before and address.endswith(f":{port}") and cluster_alive(address):
            return head, address
        time.sleep(0.5)
    stop_head(head)
    raise ClusterError(f"a local Ray cluster did not start within {timeout_s:.0f} s")


def start_cluster(bin_dir: Path, port: int, dashboard_port: int, timeout_s: float = 120.0) -> str:
    """A local head that outlives this command, for `ray job submit` (its dashboard on loopback):
    its address, once it takes jobs."""
    import subprocess
    import time

    agent = _free_port()
    done = subprocess.run(
        [str(bin_dir / "ray"), "start", "--head", f"--port={port}", "--include-dashboard=true",
         "--dashboard-host=127.0.0.1", f"--dashboard-port={dashboard_port}",
         f"--dashboard-agent-listen-port={agent}", "--disable-usage-stats"],
        env=head_env(bin_dir), capture_output=True, text=True,
    )
    address = recorded_cluster()
    if done.returncode != 0 or not address or not cluster_alive(address):
        raise ClusterError(f"cannot start a local Ray cluster: {(done.stderr or done.stdout)[-2000:]}")
    # `ray start` returns before the agent that runs jobs is up; a job submitted meanwhile is
    # refused ("No available agent to submit job"), as seen on a busy machine.
    deadline = time.monotonic() + timeout_s
    while not cluster_alive(f"127.0.0.1:{agent}"):
        if time.monotonic() > deadline:
            raise ClusterError(f"the Ray cluster at {address} started, but its job agent did not within {timeout_s:.0f} s")
        time.sleep(0.5)
    return address


def _free_port() -> int:
    with socket.socket() as s:  # another cluster may hold Ray's default ports
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_head(head, timeout_s: float = 60.0) -> None:
    """Stop a head of `start_head` and every process of its cluster."""
    import signal
    import subprocess

    if head.poll() is None:
        head.send_signal(signal.SIGTERM)
        try:
            head.wait(timeout_s)
        except subprocess.TimeoutExpired:
            head.kill()
    forget_dead_cluster()


def local_cluster_running() -> bool:
    return bool(os.environ.get("RAY_ADDRESS")) or running_local_cluster() is not None


def connect_ray() -> None:
    # Ray reads its auth mode when it is imported: a recorded cluster's token mode is set first.
    address = None if os.environ.get("RAY_ADDRESS") else recorded_cluster()
    alive = bool(address) and cluster_alive(address)
    if alive:
        os.environ.update(with_ray_auth(dict(os.environ)))
    import ray

    if ray.is_initialized():
        return
    quiet = dict(logging_level=logging.WARNING, log_to_driver=False)
    if os.environ.get("RAY_ADDRESS"):
        ray.init(address=os.environ["RAY_ADDRESS"], namespace=NAMESPACE, **quiet)
        return
    # Joining a local cluster that is already up (the service's) shares its owner of the store.
    if alive:
        try:
            ray.init(address=address, namespace=NAMESPACE, **quiet)
            return
        except (ConnectionError, RuntimeError):
            pass
    elif address:
        log.warning("the Ray cluster recorded at %s (%s) is not running; starting one for this run", CLUSTER_MARKER, address)
        forget_dead_cluster()
    # "local": a cluster of this process's own. Without it Ray would wait on a recorded address.
    ray.init(address="local", namespace=NAMESPACE, include_dashboard=False, **quiet)


def forget_dead_cluster() -> None:
    """Drop the record of a dead head, which would make every later Ray command wait on it."""
    address = recorded_cluster()
    if address and not cluster_alive(address):
        CLUSTER_MARKER.unlink(missing_ok=True)


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
            import threading

            self.settings, self.store, self._opening = settings, None, threading.Lock()
            try:
                self._open()
            except StoreError:
                pass  # a store that cannot open yet (a full disk, a busy folder) says why on each call

        def _open(self) -> VideoStore:
            with self._opening:
                if self.store is None:
                    self.store = open_store(self.settings)
            return self.store

        def call(self, method: str, args: tuple, kwargs: dict):
            if method not in STORE_METHODS:
                raise AttributeError(f"the store has no method {method}")
            return getattr(self.store or self._open(), method)(*args, **kwargs)

    settings = settings.model_copy(update={"data_dir": settings.data_dir.resolve()})
    return StoreOwner.options(
        name=owner_name(settings), namespace=NAMESPACE, lifetime="detached", get_if_exists=True
    ).remote(settings)


class StoreProxy:
    """Calls VideoStore methods on the owning actor and waits for the answer."""

    exact_scores = True  # the owner holds the embedded store, which quantises nothing

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
                # The store's own error, with its message alone (not the remote traceback).
                raise (e.cause if isinstance(e.cause, Exception) else e.as_instanceof_cause()) from None
            except ray.exceptions.RayActorError as e:
                raise StoreError(f"the embedded store's owner is not running: {e}") from None

        return call

    def close(self) -> None:
        pass  # the actor keeps the store open for the other processes of the cluster
