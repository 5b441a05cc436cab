"""The store at a library's size: write, open, search and load the copy index, through the store API.

    python bench/store_scale.py --frames 1000000 [--videos V] [--keep DIR] [--local-frames 20000] --json

Writes N synthetic frames of the real shapes (768-d semantic, 63-d copy vectors, the payload of a
real frame) for V videos (default: ten-minute videos, 600 frames each) through `VideoStore`, as an
index job does, into the embedded Edge store; then builds its indexes (`optimize`, as the job does at
its end) and measures a fresh process that opens the store, as the service does: open time, RSS,
semantic search latency (k=50, without and with a path filter matching a tenth of the library) and
a cold copy-index sync. Edge reads its vectors into the page cache in the background after it opens
(`warm_s`, waited for before the searches, as a service has long done by its first search). Local mode (the earlier embedded engine) runs the same steps side by side at
a size it can hold, `--local-frames`, beside Edge at that size, for the ratios.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SEMANTIC_DIM = 768
FRAMES_PER_VIDEO = 600
BATCH = 256  # frames per write, as the index job's writer does
FOLDERS = 10  # videos spread over this many folders: a path filter keeps a tenth
QUERIES = 60
SHOT_S = 8  # seconds per shot in the synthetic videos
SPREAD = 0.5  # how far a frame strays from its shot's direction
WARMUP = 20


def open_engine(engine: str, folder: Path, ef: int | None = None, segments: int | None = None):
    from qdrant_client import QdrantClient

    from vidsearch.config import QdrantSettings
    from vidsearch.store.edge import EdgeStore
    from vidsearch.store.server import ServerStore

    settings = QdrantSettings(lock_wait_s=30, **({"search_ef": ef} if ef else {}),
                              **({"edge_segments": segments} if segments else {}))
    if engine == "edge":
        return EdgeStore.open(settings, folder, SEMANTIC_DIM)
    folder.mkdir(parents=True, exist_ok=True)
    return ServerStore(QdrantClient(path=str(folder)), settings, SEMANTIC_DIM, indexes=False)


def unit(rng, n: int, d: int) -> np.ndarray:
    v = rng.standard_normal((n, d), dtype=np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def shots(rng, n: int, d: int, shot_s: int = SHOT_S) -> np.ndarray:
    """Frames as real embeddings of a video are: one direction per shot, frames near it. Uniform
    random vectors in 768-d have no neighbours to speak of, which no index is built for."""
    centres = unit(rng, -(-n // shot_s), d)
    frames = np.repeat(centres, shot_s, axis=0)[:n] + SPREAD * unit(rng, n, d)
    return frames / np.linalg.norm(frames, axis=1, keepdims=True)


def synthetic_videos(frames: int, videos: int):
    """(v, semantic, copy) of each synthetic video, the same every time: what `write` stores,
    and what the exact neighbours of a query are counted among."""
    rng = np.random.default_rng(0)
    per_video, written = -(-frames // videos), 0
    for v in range(videos):
        n = min(per_video, frames - written)
        if n <= 0:
            return
        yield v, shots(rng, n, SEMANTIC_DIM), shots(rng, n, 63)
        written += n


def folder_of(v: int) -> str:
    return f"/library/folder{v % FOLDERS}"


def write(engine: str, folder: Path, frames: int, videos: int, segments: int | None = None) -> dict:
    from vidsearch.media.probe import VideoMetadata
    from vidsearch.store import ids
    from vidsearch.store.records import VideoRecord

    store = open_engine(engine, folder, segments=segments)
    meta = VideoMetadata(
        container="mov,mp4", duration_s=600.0, width=1280, height=720, coded_width=1280, coded_height=720,
        fps=25, variable_frame_rate=False, video_codec="h264",
    )
    written, spent = 0, 0.0
    builds: list[float] = []  # graph builds the store ran during the writes (Edge: every INDEX_EVERY)
    optimize = store.optimize

    def timed_optimize() -> None:
        started = time.perf_counter()
        optimize()
        builds.append(time.perf_counter() - started)

    store.optimize = timed_optimize
    for v, semantic, copy in synthetic_videos(frames, videos):
        n = len(semantic)
        record = VideoRecord(
            video_id=ids.video_id(f"synthetic-{v}"), path=f"{folder_of(v)}/video{v:06d}.mp4",
            checksum=f"synthetic-{v}", size_bytes=10**8, status="indexing", metadata=meta, sampling_fps=1.0,
        )
        payload = record.frame_payload()
        started = time.perf_counter()
        store.put_video(record)
        for first in range(0, n, BATCH):
            rows = slice(first, min(first + BATCH, n))
            index = np.arange(rows.start, rows.stop)
            store.upsert_frames(payload, index, index.astype(np.float32), copy[rows], semantic[rows])
        store.set_status(record.video_id, "complete", frames=n)
        spent += time.perf_counter() - started
        written += n
        if v % 100 == 99:
            print(f"  {engine}: {written} frames, {written / spent:.0f} frames/s", file=sys.stderr)
    during = sum(builds)
    started = time.perf_counter()
    optimize()
    optimize_s = time.perf_counter() - started
    store.close()
    return {"frames": written, "videos": videos, "segments": segments,
            # Writes alone; the builds the store ran among them are counted apart.
            "write_frames_per_s": round(written / (spent - during), 1),
            "builds_during_write": len(builds), "longest_build_s": round(max(builds, default=0.0), 1),
            "build_s_during_write": round(during, 1), "optimize_s": round(optimize_s, 1)}


def measure(engine: str, folder: Path, ef: int | None = None, exact: bool = False, query_seed: int = 1) -> dict:
    """In a fresh process, as the service opens a store: open, search, copy sync; with `exact`,
    the searches' recall against the exact neighbours, counted over the regenerated vectors."""
    import psutil
    from qdrant_client import models

    from vidsearch.config import QdrantSettings
    from vidsearch.copy_index import CopyIndex

    process = psutil.Process()
    rss_before = process.memory_info().rss
    started = time.perf_counter()
    store = open_engine(engine, folder, ef)
    open_s = time.perf_counter() - started
    started = time.perf_counter()
    warm = getattr(store, "wait_warm", lambda: True)()  # Edge reads its vectors in the background
    warm_s = time.perf_counter() - started
    rng = np.random.default_rng(query_seed)  # another seed: queries no setting was chosen on
    queries = query_vectors(store, rng, 1 + WARMUP + QUERIES)
    started = time.perf_counter()
    store.search(queries[0], "semantic", 50)
    first_search_ms = (time.perf_counter() - started) * 1000
    for q in queries[1 : 1 + WARMUP]:  # a service has answered a few searches before
        store.search(q, "semantic", 50)
    queries = queries[1 + WARMUP :]
    folder_filter = models.Filter(must=[models.FieldCondition(key="dirs", match=models.MatchValue(value=folder_of(3)))])
    timings = {}
    results = {}
    # The service's search: the hits' vectors only where the store's scores are not exact. Beside
    # it, the same searches with the vectors, as every search fetched them before.
    vectors = not store.exact_scores
    for name, flt, with_vectors in (("search", None, vectors), ("filtered_search", folder_filter, vectors),
                                    ("search_with_vectors", None, True)):
        spent, found = [], []
        for q in queries:
            t = time.perf_counter()
            hits, _ = store.search(q, "semantic", 50, flt, with_vectors=with_vectors)
            spent.append(time.perf_counter() - t)
            found.append([(h.video_id, h.frame_index) for h in hits])
        timings[name] = spent
        results[name] = found
    rss_owner = process.memory_info().rss
    started = time.perf_counter()
    index = CopyIndex()
    index.sync(store)
    copy_sync_s = time.perf_counter() - started
    rss_end = process.memory_info().rss
    # What a restarted Reranker reads instead of the store (LiveCopyIndex): the index's snapshot.
    with tempfile.TemporaryDirectory(dir=folder.parent) as scratch:
        snapshot = Path(scratch) / "copy_index.bin"
        started = time.perf_counter()
        index.save(snapshot)
        snapshot_save_s = time.perf_counter() - started
        del index
        subprocess.run(["sync"], check=False)
        started = time.perf_counter()
        loaded = CopyIndex.load(snapshot)
        snapshot_load_s = time.perf_counter() - started
        started = time.perf_counter()
        changed = loaded.sync(store)  # nothing changed: the versions alone are compared
        resync_s = time.perf_counter() - started
        index = loaded
    frames = store.count_frames()
    videos = len(store.list_videos())
    store.close()
    recalls = exact_recalls(queries, results, frames, videos) if exact else {}
    ms = lambda xs, p: round(float(np.percentile(xs, p)) * 1000, 2)  # noqa: E731
    return {
        "frames": frames,
        "open_s": round(open_s, 3),
        "warm_s": round(warm_s, 1) if warm else None,  # after open, before the searches below
        "rss_mb": round(rss_owner / 2**20),
        "rss_growth_mb": round((rss_owner - rss_before) / 2**20),
        "first_search_ms": round(first_search_ms, 1),
        "search_p50_ms": ms(timings["search"], 50),
        "search_p95_ms": ms(timings["search"], 95),
        "filtered_search_p50_ms": ms(timings["filtered_search"], 50),
        "filtered_search_p95_ms": ms(timings["filtered_search"], 95),
        "search_with_vectors_p50_ms": ms(timings["search_with_vectors"], 50),
        "copy_sync_s": round(copy_sync_s, 2),
        "copy_snapshot_save_s": round(snapshot_save_s, 2),
        "copy_snapshot_load_s": round(snapshot_load_s, 2),
        "copy_resync_after_snapshot_s": round(resync_s, 2),
        "copy_resync_changed": changed,
        "copy_index_mb": round(index.nbytes() / 2**20, 1),
        "rss_with_copy_index_mb": round(rss_end / 2**20),
        "search_ef": ef or QdrantSettings().search_ef,
        **recalls,
        "results": {k: v for k, v in results.items() if k != "search_with_vectors"},
    }


def exact_recalls(queries: np.ndarray, results: dict, frames: int, videos: int, k: int = 50, shot: int = SHOT_S) -> dict:
    """Recall of the searches against the exact top-k, over the vectors `write` stored (made
    again, the same), float16 as the store keeps them. A query lies near one frame: its `shot`
    nearest are that frame's shot (cosine ~0.55), the rest of the top 50 lie at the level of
    chance (~0.15) among a million, where no index tells them apart; so recall is given of the
    top `shot` too, and of the moment (the query's shot found at all)."""
    import faiss

    from vidsearch.store import ids

    index = faiss.IndexFlatIP(SEMANTIC_DIM)
    keys, in_folder = [], []
    for v, semantic, _ in synthetic_videos(frames, videos):
        index.add(semantic.astype(np.float16).astype(np.float32))
        keys += [(ids.video_id(f"synthetic-{v}"), i) for i in range(len(semantic))]
        in_folder += [folder_of(v) == folder_of(3)] * len(semantic)
    out = {}
    for name, mask in (("search", None), ("filtered_search", np.array(in_folder))):
        selector = None if mask is None else faiss.IDSelectorBatch(np.flatnonzero(mask).astype(np.int64))
        params = None if selector is None else faiss.SearchParameters(sel=selector)
        _, rows = index.search(np.ascontiguousarray(queries, dtype=np.float32), k, params=params)
        exact = [[keys[r] for r in row] for row in rows]
        found = [set(map(tuple, f)) for f in results[name]]
        out[f"{name}_recall_at_{k}"] = recall(results[name], exact)
        out[f"{name}_recall_at_{shot}"] = recall(results[name], [e[:shot] for e in exact])
        out[f"{name}_moments_found"] = round(float(np.mean([any(x in f for x in e[:shot]) for e, f in zip(exact, found)])), 4)
    return out


def query_vectors(store, rng, n: int) -> np.ndarray:
    """Queries as a text tower gives them: near some frames (cosine ~0.7 to the nearest), equal
    to none. Drawn from frames spread over the library (a scroll runs in id order, which is
    random), so every engine gets the same ones."""
    points, _ = store._scroll("frames", None, [], ["semantic"], 4 * n, None)
    frames = np.array([p.vectors["semantic"] for p in points[::4][:n]], dtype=np.float32)
    mixed = frames + 1.0 * unit(rng, len(frames), frames.shape[1])
    return mixed / np.linalg.norm(mixed, axis=1, keepdims=True)


def run_measure(engine: str, folder: Path, ef: int | None = None, exact: bool = False, query_seed: int = 1) -> dict:
    """`measure` in a new Python process, so that nothing the writer touched is still in memory."""
    extra = (["--ef", str(ef)] if ef else []) + (["--exact"] if exact else []) + ["--query-seed", str(query_seed)]
    done = subprocess.run(
        [sys.executable, __file__, "--measure", engine, str(folder), *extra], capture_output=True, text=True, check=False
    )
    if done.returncode:
        raise SystemExit(f"measuring {engine} failed:\n{done.stderr}")
    return json.loads(done.stdout)


def recall(found: list[list], exact: list[list]) -> float:
    """Share of the exact top-k that a search found (local mode searches exhaustively)."""
    hits = sum(len(set(map(tuple, a)) & set(map(tuple, b))) for a, b in zip(found, exact))
    return round(hits / max(1, sum(len(b) for b in exact)), 4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--videos", type=int, default=None, help="default: frames / 600")
    parser.add_argument("--local-frames", type=int, default=20_000, help="the side-by-side size; 0 skips it")
    parser.add_argument("--keep", type=Path, default=None, help="write the Edge store under DIR/edge and keep it")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--ef", type=int, action="append", help="search beam width (default: the store's); repeat to compare")
    parser.add_argument("--segments", type=int, help="frame segments the new store keeps (qdrant.edge_segments)")
    parser.add_argument("--exact", action="store_true", help="recall against the exact neighbours (needs RAM for every vector)")
    parser.add_argument("--query-seed", type=int, default=1, help="the measured queries' seed (1: the ones widths were compared on)")
    parser.add_argument("--measure", nargs=2, metavar=("ENGINE", "DIR"),
                        help="only measure a store written before (with --keep DIR: DIR/edge)")
    args = parser.parse_args()
    if args.measure:
        engine, folder = args.measure[0], Path(args.measure[1])
        if len(args.ef or []) > 1:  # one fresh process per width, side by side
            print(json.dumps([{k: v for k, v in run_measure(engine, folder, ef, args.exact, args.query_seed).items() if k != "results"}
                              for ef in args.ef]))
        else:
            print(json.dumps(measure(engine, folder, (args.ef or [None])[0], args.exact, args.query_seed)))
        return

    scratch = Path(tempfile.mkdtemp(prefix="store-scale-"))
    out: dict = {}
    try:
        if args.local_frames:
            n = min(args.local_frames, args.frames)
            side = {}
            for engine in ("local", "edge"):
                folder = scratch / f"side-{engine}"
                written = write(engine, folder, n, max(1, n // FRAMES_PER_VIDEO))
                side[engine] = {**written, **run_measure(engine, folder)}
                shutil.rmtree(folder)
            exact = side["local"]
            side["edge"]["recall_at_50"] = recall(side["edge"]["results"]["search"], exact["results"]["search"])
            side["edge"]["filtered_recall_at_50"] = recall(
                side["edge"]["results"]["filtered_search"], exact["results"]["filtered_search"]
            )
            ratios = {}
            for key in ("open_s", "rss_growth_mb", "search_p50_ms", "filtered_search_p50_ms", "copy_sync_s"):
                ratios[f"{key}_local_over_edge"] = round(exact[key] / max(side["edge"][key], 1e-6), 1)
            ratios["write_edge_over_local"] = round(side["edge"]["write_frames_per_s"] / exact["write_frames_per_s"], 1)
            for engine in side.values():
                engine.pop("results")
            out["side_by_side"] = {"frames": n, **side, "ratios": ratios}
        folder = (args.keep / "edge") if args.keep else scratch / "edge"
        if folder.exists():
            raise SystemExit(f"{folder} exists: give --keep a new folder")
        videos = args.videos or max(1, -(-args.frames // FRAMES_PER_VIDEO))
        written = write("edge", folder, args.frames, videos, args.segments)
        measured = run_measure("edge", folder, (args.ef or [None])[0], args.exact)
        measured.pop("results")
        out.update(written, **measured)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if args.json:
        print(json.dumps(out))
    else:
        print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
