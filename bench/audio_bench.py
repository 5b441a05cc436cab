"""Audio alignment: `locate` (key votes, then a few exact checks) against every-offset search.

    python bench/audio_bench.py [--videos DIR] [--sources 50] [--source-minutes 60]
                                [--query-seconds 30] [--naive-sources N] [--repeat 3]

A 30 s excerpt of a real soundtrack, cut and re-encoded to 48 kb/s mono AAC with ffmpeg, is
looked for in 50 one-hour sources. Each source is a random sequence of real fingerprint
stretches from the corpus, each XORed with its own random word of 16 set bits (the structure of
real fingerprints, unrelated content), with ~3% of all bits then flipped at random. One source
holds the excerpt's whole original soundtrack at a known place. Both methods scan every source
and keep the best match. With --naive-sources N below --sources, the every-offset search runs
on N sources (the one holding the clip among them) and its time is scaled linearly to all of
them; the output says so.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vidsearch.fingerprints import (  # noqa: E402
    ITEM_SECONDS,
    AudioMatch,
    fingerprint_audio,
    locate,
    naive_locate,
)

DEFAULT_VIDEOS = Path(__file__).resolve().parents[2] / "shared" / "media" / "videos"
CLIP_VIDEO = "tears_of_steel_battle_clip.webm"
CLIP_START_S = 25.0


def cut_excerpt(video: Path, start_s: float, seconds: float, target: Path) -> Path:
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-ss", str(start_s), "-i", str(video), "-t", str(seconds),
         "-vn", "-ac", "1", "-c:a", "aac", "-b:a", "48k", str(target)],
        check=True,
    )
    return target


def corpus_fingerprints(videos: Path) -> dict[str, np.ndarray]:
    found = {}
    for path in sorted(videos.iterdir()):
        fp = fingerprint_audio(str(path))
        if fp.status == "fingerprinted":
            found[path.name] = fp.items
    return found


def half_the_bits(rng: np.random.Generator) -> np.uint32:
    # Flipping exactly 16 bits puts a stretch at BER 0.5 from its original: a random word with
    # few bits set would leave a near copy of the query's soundtrack in a source meant not to
    # hold it.
    return np.uint32(sum(1 << int(bit) for bit in rng.choice(32, 16, replace=False)))


def flip_some_bits(items: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    # The AND of five random words sets each bit with probability 1/32.
    words = rng.integers(0, 2**32, size=(5, len(items)), dtype=np.uint32)
    return items ^ np.bitwise_and.reduce(words)


def synthetic_source(pool: list[np.ndarray], n_items: int, rng: np.random.Generator) -> np.ndarray:
    parts, total = [], 0
    while total < n_items:
        fp = pool[rng.integers(len(pool))]
        start = int(rng.integers(0, len(fp) // 2))
        left = len(fp) - start
        stretch = fp[start : start + int(rng.integers(min(20, left), left + 1))]
        parts.append(stretch ^ half_the_bits(rng))
        total += len(stretch)
    return flip_some_bits(np.concatenate(parts)[:n_items], rng)


def best_of(matches: list[AudioMatch | None]) -> tuple[int, AudioMatch] | None:
    found = [(i, m) for i, m in enumerate(matches) if m is not None]
    if not found:
        return None
    return max(found, key=lambda found_match: found_match[1].matched_items * found_match[1].score)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=Path, default=DEFAULT_VIDEOS)
    parser.add_argument("--sources", type=int, default=50)
    parser.add_argument("--source-minutes", type=float, default=60.0)
    parser.add_argument("--query-seconds", type=float, default=30.0)
    parser.add_argument("--naive-sources", type=int, default=None, help="default: all sources")
    parser.add_argument("--repeat", type=int, default=3, help="locate passes; the fastest counts")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)

    started = time.perf_counter()
    corpus = corpus_fingerprints(args.videos)
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "clip.m4a"
        cut_excerpt(args.videos / CLIP_VIDEO, CLIP_START_S, args.query_seconds, clip)
        query = fingerprint_audio(str(clip)).items
    original = corpus[CLIP_VIDEO]
    n_items = round(args.source_minutes * 60 / ITEM_SECONDS)
    sources = [synthetic_source(list(corpus.values()), n_items, rng) for _ in range(args.sources)]
    holder = int(rng.integers(args.sources))
    insert_at = int(rng.integers(0, n_items - len(original)))
    sources[holder][insert_at : insert_at + len(original)] = original
    expected_s = insert_at * ITEM_SECONDS + CLIP_START_S
    setup_s = time.perf_counter() - started
    print(f"corpus: {len(corpus)} soundtracks fingerprinted; setup {setup_s:.1f} s")
    print(f"query: {args.query_seconds:.0f} s of {CLIP_VIDEO} from {CLIP_START_S:.0f} s, "
          f"48 kb/s AAC -> {len(query)} items")
    print(f"sources: {args.sources} x {args.source_minutes:.0f} min ({n_items} items each); "
          f"source {holder} holds the clip's soundtrack: the query belongs at {expected_s:.2f} s")

    locate_s = float("inf")
    for _ in range(args.repeat):
        started = time.perf_counter()
        matches = [locate(query, source) for source in sources]
        locate_s = min(locate_s, time.perf_counter() - started)
    located = best_of(matches)
    elsewhere = sum(m is not None for i, m in enumerate(matches) if i != holder)

    naive_count = min(args.naive_sources or args.sources, args.sources)
    others = [i for i in range(args.sources) if i != holder]
    naive_ids = sorted([holder, *others[: naive_count - 1]])
    started = time.perf_counter()
    naive = [naive_locate(query, sources[i]) for i in naive_ids]
    naive_measured_s = time.perf_counter() - started
    naive_s = naive_measured_s * args.sources / len(naive_ids)
    naive_best = min(range(len(naive_ids)), key=lambda k: naive[k][1])
    naive_source, (naive_offset_s, naive_ber) = naive_ids[naive_best], naive[naive_best]

    print()
    if located is None:
        print("locate: no match")
    else:
        source_id, match = located
        print(f"locate: source {source_id}, offset {match.offset_s:.2f} s "
              f"(error {match.offset_s - expected_s:+.2f} s), BER {match.bit_error_rate:.3f}, "
              f"{match.matched_items} items agree; matches in other sources: {elsewhere}")
    print(f"naive:  source {naive_source}, offset {naive_offset_s:.2f} s "
          f"(error {naive_offset_s - expected_s:+.2f} s), BER {naive_ber:.3f}")
    print(f"locate wall time, {args.sources} sources: {locate_s:.3f} s "
          f"({1000 * locate_s / args.sources:.2f} ms per source, best of {args.repeat} passes)")
    if len(naive_ids) == args.sources:
        print(f"naive wall time,  {args.sources} sources: {naive_s:.3f} s "
              f"({1000 * naive_s / args.sources:.2f} ms per source, one pass)")
    else:
        print(f"naive wall time,  {args.sources} sources: {naive_s:.3f} s EXTRAPOLATED linearly "
              f"from {naive_measured_s:.3f} s measured on {len(naive_ids)} sources")
    print(f"speed-up: {naive_s / locate_s:.0f}x")
    same = located is not None and located[0] == naive_source and (
        round(located[1].offset_s / ITEM_SECONDS) == round(naive_offset_s / ITEM_SECONDS)
    )
    print(f"same source and offset: {'yes' if same else 'NO'}")


if __name__ == "__main__":
    main()
