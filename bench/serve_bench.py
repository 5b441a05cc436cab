"""Serving latency, throughput and errors under concurrent load, against the same queries run
through the in-process call chain (the core objects, no Serve) in the same run.

    python bench/serve_bench.py VIDEO_DIR [--clients 16] [--seconds 60] [--mix search|full]

Indexes VIDEO_DIR into a temporary data dir with a randomly initialised SigLIP-B (the default
model's architecture: weights do not change its cost), serves configs/serve.yaml on local Ray, and
runs N concurrent clients for T seconds against /search and /match (10 s re-encoded excerpts).
The in-process chain (the same core objects, no Serve, no HTTP) runs the same mix from as many
threads, side by side in the same run. Prints p50/p95/p99 per route, throughput, errors (with
their reasons), replica counts before, at the peak of and after the load.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
WORDS = "person car dog cake moon space bunny street city night forest water fire robot face".split()


def random_siglip_base(path: Path) -> Path:
    """SigLIP-B/16-224 with random weights and a small word-level tokenizer, saved like a checkpoint."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast, SiglipConfig, SiglipImageProcessor, SiglipModel

    torch.manual_seed(0)
    vocab = ["<pad>", "<unk>", "</s>", *WORDS]
    tokenizer = Tokenizer(models.WordLevel({w: i for i, w in enumerate(vocab)}, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    SiglipModel(SiglipConfig()).save_pretrained(path)
    SiglipImageProcessor(size={"height": 224, "width": 224}).save_pretrained(path)
    PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, pad_token="<pad>", unk_token="<unk>", eos_token="</s>", model_max_length=64
    ).save_pretrained(path)
    return path


def excerpts(videos: list[Path], out: Path, count: int) -> list[bytes]:
    rng = random.Random(0)
    clips = []
    for i, video in enumerate(rng.sample(videos, min(count, len(videos)))):
        target = out / f"clip{i}.mp4"
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y", "-ss", "1", "-i", str(video), "-t", "10", "-vf", "scale=-2:240",
             "-c:v", "libx264", "-crf", "30", "-preset", "veryfast", "-c:a", "aac", str(target)],
            check=True,
        )
        clips.append(target.read_bytes())
    return clips


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def replicas() -> dict[str, int]:
    from ray import serve

    app = next(iter(serve.status().applications.values()))
    return {name: sum(n for state, n in d.replica_states.items() if str(state).endswith("RUNNING"))
            for name, d in app.deployments.items()}


# Share of each route in a run: `search` is the service's two heavy routes; `full` adds what a page
# asks for beside them, thumbnails of the results and the library listing.
MIXES = {
    "search": {"search": 0.75, "match": 0.25},
    "full": {"search": 0.45, "match": 0.15, "thumbnail": 0.3, "videos": 0.1},
}


async def load(url: str, clients: int, seconds: float, clips: list[bytes], mix: str = "search") -> dict[str, list[float]]:
    shares = MIXES[mix]
    latencies: dict[str, list[float]] = {route: [] for route in shares} | {"errors": []}
    deadline = time.perf_counter() + seconds
    async with httpx.AsyncClient(base_url=url, timeout=120) as http:
        frames = [(v["video_id"], v["frames"]) for v in (await http.get("/videos")).json()["videos"] if v["frames"]]

    async def client(n: int) -> None:
        rng = random.Random(n)
        async with httpx.AsyncClient(base_url=url, timeout=120) as http:
            while time.perf_counter() < deadline:
                route = rng.choices(list(shares), weights=list(shares.values()))[0]
                started = time.perf_counter()
                try:
                    if route == "search":
                        r = await http.get("/search", params={"q": " ".join(rng.sample(WORDS, 2)), "k": 10})
                    elif route == "thumbnail":
                        video, count = rng.choice(frames)
                        r = await http.get(f"/videos/{video}/thumbnail", params={"t": rng.randrange(count)})
                    elif route == "videos":
                        r = await http.get("/videos")
                    else:
                        r = await http.post("/match", files={"file": ("c.mp4", rng.choice(clips), "video/mp4")})
                    ok = r.status_code == 200
                    if not ok:
                        reasons[f"{route} {r.status_code}: {r.text[:120]}"] = reasons.get(f"{route} {r.status_code}: {r.text[:120]}", 0) + 1
                except httpx.HTTPError as e:
                    ok = False
                    reasons[f"{route}: {type(e).__name__}"] = reasons.get(f"{route}: {type(e).__name__}", 0) + 1
                latencies[route if ok else "errors"].append(time.perf_counter() - started)

    async def watch_replicas() -> None:
        while time.perf_counter() < deadline:
            for name, n in (await asyncio.to_thread(replicas)).items():
                peak[name] = max(peak.get(name, 0), n)
            await asyncio.sleep(2)

    peak: dict[str, int] = {}
    reasons: dict[str, int] = {}
    await asyncio.gather(watch_replicas(), *(client(n) for n in range(clients)))
    latencies["peak_replicas"] = peak
    latencies["reasons"] = reasons
    return latencies


def percentiles(values: list[float]) -> str:
    if not values:
        return "no requests"
    q = np.percentile(np.array(values) * 1000, [50, 95, 99])
    return f"p50 {q[0]:.0f} ms, p95 {q[1]:.0f} ms, p99 {q[2]:.0f} ms ({len(values)} requests)"


class InProcessChain:
    """The same work as /search and /match through the core objects, without Serve or HTTP."""

    def __init__(self, settings):
        from vidsearch.copy_index import CopyIndex
        from vidsearch.embedders.semantic import SemanticEmbedder, resolve_model
        from batch_jobs.cluster import cluster_store

        self.settings = settings
        semantic = settings.semantic
        self.embedder = SemanticEmbedder(resolve_model(semantic.model), "cpu", semantic.runtime, semantic.precision)
        self.store = cluster_store(settings)
        self.index = CopyIndex()
        self.lock = threading.Lock()

    def search(self, q: str) -> list:
        from vidsearch.filters import SearchFilters
        from vidsearch.search import moments

        return moments(self.store, self.embedder.embed_texts([q])[0], 10, SearchFilters(), False)

    def match(self, data: bytes) -> list:
        from vidsearch.clips import clip_file, clip_fingerprint, clip_vectors
        from vidsearch.matching import match_clip, verify_audio

        with clip_file(data) as path:
            clip = clip_vectors(path, fps=self.settings.sampling.fps, max_side=self.settings.sampling.max_side)
            audio = clip_fingerprint(path)
        with self.lock:  # the index is one replica's: requests take turns syncing it
            self.index.sync(self.store)
            matches = match_clip(self.store, self.index, clip)
        return verify_audio(self.store, audio, matches)


def chain_load(chain: InProcessChain, clients: int, seconds: float, clips: list[bytes]) -> dict[str, list]:
    """`clients` threads calling the chain back to back for `seconds`, with the same mix as `load`."""
    latencies: dict[str, list] = {"search": [], "match": [], "errors": []}
    deadline = time.perf_counter() + seconds

    def client(n: int) -> None:
        rng = random.Random(n)
        while time.perf_counter() < deadline:
            route = "match" if rng.random() < 0.25 else "search"
            started = time.perf_counter()
            try:
                chain.match(rng.choice(clips)) if route == "match" else chain.search(" ".join(rng.sample(WORDS, 2)))
                latencies[route].append(time.perf_counter() - started)
            except Exception:  # counted, as the HTTP load counts its errors
                latencies["errors"].append(time.perf_counter() - started)

    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, range(clients)))
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("videos", type=Path)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--mix", choices=sorted(MIXES), default="search",
                        help="search: /search and /match; full: thumbnails and the library listing too")
    parser.add_argument("--runtime", default="auto:auto", help="semantic runtime:precision (torch:fp32, onnx:int8...)")
    args = parser.parse_args()
    runtime, precision = args.runtime.split(":")

    import ray
    from ray import serve

    sys.path.insert(0, str(REPO))
    from batch_jobs.index_videos import run_index
    from serve_app.app import build_app
    from vidsearch.config import load_settings

    with tempfile.TemporaryDirectory(prefix="vidsearch-serve-bench-") as tmp:
        tmp = Path(tmp)
        model = random_siglip_base(tmp / "siglip-b")
        config = tmp / "vidsearch.yaml"
        semantic = {"model": str(model), "runtime": runtime, "precision": precision}
        config.write_text(yaml.safe_dump({"data_dir": str(tmp / "data"), "semantic": semantic}))
        settings = load_settings(config)
        videos = sorted(p for p in args.videos.iterdir() if p.is_file())
        clips = excerpts(videos, tmp, 4)
        ray.init(namespace="vidsearch", include_dashboard=False, log_to_driver=False)
        try:
            summary = run_index([str(args.videos)], settings, show_progress=False)
            stages = summary.as_json()["stages"]
            print(f"indexed {summary.indexed} videos, {summary.frames} frames in {summary.wall_s:.1f} s "
                  f"({summary.frames / summary.wall_s:.1f} frames/s, semantic {summary.semantic_runtime}); "
                  f"frames per busy second: {stages}")
            port = free_port()
            serve.start(http_options={"host": "127.0.0.1", "port": port})
            serve.run(build_app({"config": str(config), "serve_config": str(REPO / "configs" / "serve.yaml")}))
            url = f"http://127.0.0.1:{port}"
            queries = [" ".join(random.Random(i).sample(WORDS, 2)) for i in range(40)]
            chain = InProcessChain(settings)
            chain.search("warm up")
            sequential = []
            for q in queries:
                started = time.perf_counter()
                chain.search(q)
                sequential.append(time.perf_counter() - started)
            with httpx.Client(base_url=url, timeout=120) as http:
                http.get("/search", params={"q": "warm up"})
                single = []
                for q in queries:
                    started = time.perf_counter()
                    http.get("/search", params={"q": q, "k": 10}).raise_for_status()
                    single.append(time.perf_counter() - started)
            chained = chain_load(chain, args.clients, args.seconds, clips)
            before = replicas()
            result = asyncio.run(load(url, args.clients, args.seconds, clips, args.mix))
            after = replicas()
        finally:
            serve.shutdown()
            ray.shutdown()
    chain_p50, single_p50 = statistics.median(sequential), statistics.median(single)
    print(f"one client:  in-process chain /search {percentiles(sequential)}")
    print(f"             Serve /search            {percentiles(single)} -> p50 {single_p50 / chain_p50:.2f}x the chain")
    mixed = ", ".join(f"{share:.0%} {route}" for route, share in MIXES[args.mix].items())
    print(f"{args.clients} clients for {args.seconds:.0f} s each (Serve: {mixed}; the chain: 3 in 4 /search, 1 in 4 /match; 10 s clips):")
    for name, run in (("in-process chain", chained), ("Serve over HTTP", result)):
        routes = [r for r in run if isinstance(run[r], list) and r != "errors"]
        total = sum(len(run[r]) for r in routes)
        print(f"  {name}: {total / args.seconds:.1f} requests/s, errors {len(run['errors'])}")
        for route in routes:
            print(f"    {route:9s} {percentiles(run[route])}")
    for reason, count in result["reasons"].items():
        print(f"    {count} x {reason}")
    if chained["search"] and result["search"]:
        ratio = statistics.median(result["search"]) / statistics.median(chained["search"])
        print(f"  /search p50 under load: Serve {ratio:.2f}x the in-process chain")
    print(f"replicas before load {before}, peak during load {result['peak_replicas']}, after {after}")


if __name__ == "__main__":
    main()
