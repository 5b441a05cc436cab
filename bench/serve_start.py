"""How long `vidsearch serve` takes on a data dir until it answers: /health, then a first /match.

    python bench/serve_start.py DATA_DIR CLIP [--port 8000] [--cold] [--json]

Starts the service as a user does (`vidsearch serve --data-dir DATA_DIR`, a new local Ray cluster),
polls /health until it answers 200, then uploads CLIP to /match; the first match waits for the
Reranker's copy index of the whole library, which it starts loading as it starts: from the
snapshot an earlier run left under DATA_DIR/cache, or (the first run, or `--cold`, which deletes
that snapshot) from the store. Prints seconds from the start to each, and the match. Stops the
cluster at the end. Run it on the data dir `bench/store_scale.py --keep` leaves, with one real video indexed
into it (`vidsearch index VIDEO --data-dir DATA_DIR`) and a clip cut from that video.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("clip", type=Path)
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--cold", action="store_true", help="delete the copy index's snapshot first")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    snapshot = args.data_dir / "cache" / "copy_index.bin"  # Settings.copy_snapshot_path
    if args.cold:
        snapshot.unlink(missing_ok=True)
    url = f"http://127.0.0.1:{args.port}"
    env = {**os.environ, "RAY_ADDRESS": ""}
    subprocess.run([str(BIN / "ray"), "stop", "--force"], capture_output=True, env=env)
    started = time.perf_counter()
    service = subprocess.Popen(
        [str(BIN / "vidsearch"), "serve", "--data-dir", str(args.data_dir), "--port", str(args.port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True,
    )
    out: dict = {"copy_snapshot_at_start": snapshot.exists()}
    try:
        while time.perf_counter() - started < args.timeout:
            try:
                if httpx.get(f"{url}/health", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if service.poll() is not None:
                raise SystemExit(f"vidsearch serve exited with {service.returncode}")
            time.sleep(0.5)
        out["health_s"] = round(time.perf_counter() - started, 1)
        with args.clip.open("rb") as f:
            response = httpx.post(f"{url}/match", files={"file": (args.clip.name, f)}, timeout=args.timeout)
        out["first_match_s"] = round(time.perf_counter() - started, 1)
        out["status"] = response.status_code
        out["matches"] = [
            {k: m[k] for k in ("path", "source_start_s", "source_end_s", "score", "evidence")}
            for m in response.json().get("matches", [])
        ]
        stats = httpx.get(f"{url}/stats", timeout=60).json()
        out["frames"], out["videos"] = stats["frames"], stats["videos"]
    finally:
        os.killpg(service.pid, signal.SIGTERM)  # as Ctrl-C, also where this runs in the background
        service.wait(timeout=60)
        subprocess.run([str(BIN / "ray"), "stop", "--force"], capture_output=True, env=env)
    print(json.dumps(out) if args.json else json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
