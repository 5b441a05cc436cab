"""Chromaprint audio fingerprints: computing them with fpcalc, storing them, aligning them.

A fingerprint is a sequence of 32-bit items, one per ~0.124 s of audio (chromaprint's default
algorithm: 4096-sample frames at 11025 Hz, a third overlapping). Each item holds 16 classifiers'
outputs, two Gray-coded bits each; the high bit of each pair (the odd bit positions) says on which
side of its middle threshold a classifier fell, so it is the bit that re-encoding flips least.
An item summarises 20 frames (~2.7 s) of audio, so a 5 s clip gives only ~19 items, 10 s ~59.

Alignment: where does a clip sit inside a long source?
------------------------------------------------------
`locate(query, source)` finds the offset at which the query's items agree with the source's,
and the run of items over which they agree. Trying every offset costs len(query) x len(source)
item comparisons (`naive_locate`, ~60 ms for 30 s against an hour); instead:

1. Vote. Every item gives three 16-bit keys: its 16 sign bits, its top half, its bottom half.
   After re-encoding, 40-90% of items keep a given key exactly though a few of their bits flip,
   and three keys make it likely that at least one survives. For each kind of key, a 2**16
   membership table of the query's keys picks out the source items that share one (one gather,
   no sort of the source); each such pair votes for offset = source item - query item, weighted
   by 1 / how often the key occurs in the source, so common keys (silence, hum) cannot outvote
   rare ones.
2. Verify. The few best-voted offsets (each with its neighbours' votes added: a clip cut between
   two items' start times splits its votes) are checked exactly, XOR and popcount over the
   overlap. An offset one item off agrees too (BER ~0.13; unrelated audio ~0.5), so the
   neighbour with fewest bit errors where they agree is kept.
3. Segment. The per-item bit error rate along that offset, smoothed over ~1.5 s, stays below
   `MATCH_MAX_BER` (0.35) where the audio agrees; the longest such run is the match. It counts
   only if it lasts `MIN_RUN_SECONDS` of items (a query too short for that: most of its items)
   and its BER also beats what chance reaches over that many items (`CHANCE_MARGIN`), since
   unrelated fingerprints average 0.5 but dip over short stretches.

A query that is mostly one repeated item is silence: it would agree with every silent stretch,
so it is refused rather than matched. The cost is the vote (a few passes over the source's items)
plus a handful of exact checks, ~0.5 ms for a 30 s clip against an hour of audio, ~100x faster
than trying every offset (`bench/audio_bench.py`).
"""

from __future__ import annotations

import base64
import contextlib
import functools
import json
import logging
import math
import os
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import acoustid
import numpy as np

logger = logging.getLogger(__name__)

ITEM_SECONDS = 4096 / 3 / 11025
# Audio one item summarises: its frame and the 19 after it (a 5-tap chroma filter, then
# classifiers up to 16 frames wide; a 10 s clip's 78 frames give 59 items). Item i covers
# [i * ITEM_SECONDS, i * ITEM_SECONDS + ITEM_SPAN_SECONDS).
ITEM_SPAN_SECONDS = (19 * 4096 / 3 + 4096) / 11025
AudioStatus = Literal["fingerprinted", "silent", "too_short", "none", "failed"]


@dataclass(frozen=True)
class AudioFingerprint:
    status: AudioStatus
    items: np.ndarray | None = None  # uint32
    duration_s: float | None = None
    detail: str | None = None

    def encoded(self) -> str | None:
        return encode_items(self.items) if self.items is not None else None


def encode_items(items: np.ndarray) -> str:
    return base64.b64encode(np.asarray(items, dtype="<u4").tobytes()).decode("ascii")


def decode_items(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype="<u4").astype(np.uint32)


def fpcalc_command() -> str:
    return os.environ.get(acoustid.FPCALC_ENVVAR, acoustid.FPCALC_COMMAND)


def fingerprint_audio(
    path: str, has_audio: bool = True, timeout_s: float = 600.0, speed: float = 1.0, keep_pitch: bool = True
) -> AudioFingerprint:
    """Fingerprint the whole of a file's first audio track; never raises for bad audio.

    `speed` != 1: the file's audio plays `speed` times as fast as the audio it was made from; it
    is put back to that tempo first (pitch kept, or `keep_pitch=False`: resampled, as a tape)."""
    if not has_audio:
        return AudioFingerprint("none", detail="no audio stream")
    if speed != 1.0:
        with _retimed(path, speed, keep_pitch, timeout_s) as wav:
            if wav is None:
                return AudioFingerprint("failed", detail="the audio could not be put back to its tempo")
            return fingerprint_audio(wav, timeout_s=timeout_s)
    # -length 0: the default stops after 120 s. fpcalc may exit non-zero at the end of stream after
    # printing a valid fingerprint, so the output decides, not the exit code.
    cmd = [fpcalc_command(), "-raw", "-json", "-length", "0", path]
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=timeout_s, check=False)
    except FileNotFoundError:
        return AudioFingerprint("failed", detail="fpcalc is not installed (libchromaprint-tools)")
    except subprocess.TimeoutExpired:
        return AudioFingerprint("failed", detail=f"fpcalc took longer than {timeout_s:.0f} s")
    try:
        out = json.loads(done.stdout or b"{}")
    except json.JSONDecodeError:
        out = {}
    items = out.get("fingerprint")
    if not items:
        err = done.stderr.decode(errors="replace")
        if "Empty fingerprint" in err:
            return AudioFingerprint("too_short", detail="audio too short to fingerprint")
        if "Could not find any audio stream" in err:
            return AudioFingerprint("none", detail="no audio stream")
        last = [ln for ln in err.splitlines() if ln.strip()]
        return AudioFingerprint("failed", detail=last[-1] if last else "fpcalc gave no fingerprint")
    array = np.asarray(items, dtype=np.uint64).astype(np.uint32)
    duration = float(out.get("duration") or len(array) * ITEM_SECONDS)
    if len(np.unique(array)) == 1:
        # Digital silence gives one repeated item: it would "match" every other silent track.
        return AudioFingerprint("silent", array, duration, "audio track is silent")
    return AudioFingerprint("fingerprinted", array, duration)


RETIME_RATE = 22050  # Hz: Chromaprint reads 11025 Hz, so nothing it uses is lost


@contextlib.contextmanager
def _retimed(path: str, speed: float, keep_pitch: bool, timeout_s: float) -> Iterator[str | None]:
    """A temporary WAV of `path`'s audio played at 1 / speed (None if ffmpeg cannot make one)."""
    # atempo keeps the pitch (0.5-2x per filter); asetrate reads the samples at another rate.
    to = f"atempo={1 / speed:.6f}" if keep_pitch else f"asetrate={RETIME_RATE / speed:.3f},aresample={RETIME_RATE}"
    af = f"aresample={RETIME_RATE},{to}"
    fd, wav = tempfile.mkstemp(prefix="vidsearch-retimed-", suffix=".wav")
    os.close(fd)
    try:
        cmd = ["ffmpeg", "-v", "error", "-y", "-i", path, "-vn", "-ac", "1", "-af", af, wav]
        try:
            done = subprocess.run(cmd, capture_output=True, timeout=timeout_s, check=False)
        except (OSError, subprocess.TimeoutExpired):
            done = None
        yield wav if done is not None and done.returncode == 0 else None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(wav)


# --- Alignment -----------------------------------------------------------------------------------

MATCH_MAX_BER = 0.35  # same audio re-encoded: ~0.01-0.15, band-limited ~0.25; unrelated ~0.5
MIN_RUN_SECONDS = 2.5
SMOOTH_SECONDS = 1.5
MIN_QUERY_ITEMS = 12  # ~1.5 s of items, what a ~4 s clip gives: fewer bits are too easily matched
# Unrelated fingerprints are correlated item to item, so short stretches of them dip well below
# 0.5. Measured over 1,500 unrelated real-audio queries against 2-hour sources, the best run found
# reached 0.5 - 1.16 / sqrt(n) over n items (0.31 over 38 items, from quiet room noise, whose
# items are biased towards set bits); re-encoded, noisy or band-limited clips of the same audio
# stayed at 0.5 - 1.75 / sqrt(n) or better. A run must beat 0.5 - CHANCE_MARGIN / sqrt(n) as well
# as max_ber: short runs need near-identical audio, long ones may be noisy.
CHANCE_MARGIN = 1.4
# The true offset is almost always the best voted; the next few cover queries whose surviving
# keys are common in the source. Each costs one exact check of the overlap.
VOTE_CANDIDATES = 4
# A key found this often in the source says nothing about where the query is, and expanding
# its hits would cost more than the rest of the vote.
MAX_SOURCE_HITS_PER_KEY = 512
_KEY_BITS = 16
_ITEM_BITS = 32


@dataclass(frozen=True)
class AudioMatch:
    """Where a query fingerprint agrees with a source fingerprint; times in seconds of each audio.

    Start and end bound the audio the agreeing items summarise, so a 10 s clip matched whole
    gives query_start_s ~0 and query_end_s ~10.
    """

    offset_s: float  # source time of the query's first item; negative if the query starts earlier
    query_start_s: float
    query_end_s: float
    source_start_s: float
    source_end_s: float
    bit_error_rate: float  # over the agreeing run
    score: float  # 1 - 2 * bit_error_rate, clipped to 0..1: 0 is what unrelated audio gives
    matched_items: int


def popcount32(items: np.ndarray) -> np.ndarray:
    """Set bits per uint32 item, as uint8."""
    items = np.asarray(items, dtype=np.uint32)
    if hasattr(np, "bitwise_count"):  # numpy >= 2
        return np.bitwise_count(items)
    table = _popcount16_table()
    return table[items & 0xFFFF] + table[items >> 16]


@functools.cache
def _popcount16_table() -> np.ndarray:
    bits = np.unpackbits(np.arange(1 << 16, dtype=">u2").view(np.uint8)).reshape(-1, 16)
    return bits.sum(axis=1).astype(np.uint8)


def _sign_bits(items: np.ndarray) -> np.ndarray:
    """The odd bits of each item (each classifier's high Gray-code bit), packed into 16 bits."""
    x = items >> 1
    x &= 0x55555555
    for shift, mask in ((1, 0x33333333), (2, 0x0F0F0F0F), (4, 0x00FF00FF), (8, 0x0000FFFF)):
        x |= x >> shift
        x &= mask
    return x


def item_keys(items: np.ndarray) -> list[np.ndarray]:
    """Three 16-bit lookup keys per item: its sign bits, its top half, its bottom half."""
    items = np.ascontiguousarray(items, dtype="<u4")
    halves = items.view("<u2")  # no copy: the top and bottom halves are every other uint16
    return [_sign_bits(items), halves[1::2], halves[0::2]]


def is_uninformative(items: np.ndarray) -> bool:
    """True for silence: chromaprint gives one repeated item for silent or near-silent audio.

    More than half the items being one value counts: a clip that is mostly silence has too little
    sound left to place reliably, and its silence would agree with any silent stretch.
    """
    if len(items) == 0:
        return True
    _, counts = np.unique(items, return_counts=True)
    return bool(counts.max() * 2 > len(items))


def _key_hit_pairs(
    query_keys: np.ndarray, source_keys: np.ndarray, max_hits_per_key: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(query item, source item, weight) of every pair sharing a key; weight: 1 / the key's hits."""
    # A 64 KiB membership table filters the long source in one gather; only its hits go further,
    # so no array the size of the source is sorted or kept.
    present = np.zeros(1 << _KEY_BITS, dtype=bool)
    present[query_keys] = True
    source_items = np.flatnonzero(present[source_keys])
    keys = source_keys[source_items]
    _, key_of_hit, hits_per_key = np.unique(keys, return_inverse=True, return_counts=True)
    hits = hits_per_key[key_of_hit]
    keep = hits <= max_hits_per_key
    source_items, keys, hits = source_items[keep], keys[keep], hits[keep]
    # A key may recur in the query (sustained notes repeat an item): pair each hit with all of them.
    query_order = np.argsort(query_keys, kind="stable")
    sorted_keys = query_keys[query_order]
    first = np.searchsorted(sorted_keys, keys, side="left")
    repeats = np.searchsorted(sorted_keys, keys, side="right") - first
    within = np.arange(int(repeats.sum())) - np.repeat(np.cumsum(repeats) - repeats, repeats)
    query_items = query_order[np.repeat(first, repeats) + within]
    return query_items, np.repeat(source_items, repeats), np.repeat(1.0 / hits, repeats)


def offset_votes(
    query: np.ndarray, source: np.ndarray, max_hits_per_key: int = MAX_SOURCE_HITS_PER_KEY
) -> tuple[np.ndarray, np.ndarray]:
    """Offsets (source item - query item) that key hits vote for, ascending, and their votes."""
    offsets, weights = [], []
    for query_keys, source_keys in zip(item_keys(query), item_keys(source)):
        pairs = _key_hit_pairs(query_keys, source_keys, max_hits_per_key)
        query_items, source_items, weight = pairs
        offsets.append(source_items - query_items)
        weights.append(weight)
    voted, which = np.unique(np.concatenate(offsets), return_inverse=True)
    return voted, np.bincount(which, np.concatenate(weights), minlength=len(voted))


def strongest_offsets(
    offsets: np.ndarray, votes: np.ndarray, count: int, separation: int = 3
) -> np.ndarray:
    """The `count` best-voted offsets, neighbours' votes added, at least `separation` apart."""
    summed = votes.copy()
    for step in (-1, 1):
        at = np.minimum(np.searchsorted(offsets, offsets + step), len(offsets) - 1)
        neighbour = offsets[at] == offsets + step
        summed[neighbour] += votes[at[neighbour]]
    ranked = offsets[np.argsort(-summed, kind="stable")[: count * 8]]
    picked: list[int] = []
    for offset in ranked.tolist():
        if all(abs(offset - p) > separation for p in picked):
            picked.append(offset)
            if len(picked) == count:
                break
    return np.asarray(picked, dtype=np.int64)


def overlap(n_query: int, n_source: int, offset: int) -> tuple[int, int]:
    """Query item range [start, end) that lies inside the source when shifted by `offset` items."""
    return max(0, -offset), min(n_query, n_source - offset)


def item_bit_errors(query: np.ndarray, source: np.ndarray, offset: int) -> tuple[int, np.ndarray]:
    """First overlapping query item and the differing bits of each overlapping item pair."""
    start, end = overlap(len(query), len(source), offset)
    if end <= start:
        return start, np.zeros(0, dtype=np.uint8)
    return start, popcount32(query[start:end] ^ source[start + offset : end + offset])


def moving_ber(bit_errors: np.ndarray, window: int) -> np.ndarray:
    """Bit error rate averaged over `window` items around each item, along the last axis.

    The window shrinks at the edges rather than padding, so a match that starts at the first item
    is not diluted by imaginary errors.
    """
    n = bit_errors.shape[-1]
    half = max(window, 1) // 2
    total = np.cumsum(bit_errors, axis=-1, dtype=np.int64)
    total = np.concatenate((np.zeros(total.shape[:-1] + (1,), dtype=np.int64), total), axis=-1)
    index = np.arange(n)
    lo, hi = np.maximum(index - half, 0), np.minimum(index + half + 1, n)
    return (total[..., hi] - total[..., lo]) / (_ITEM_BITS * (hi - lo))


def longest_agreeing_run(bit_errors: np.ndarray, window: int, max_ber: float) -> tuple[int, int]:
    """[start, end) of the longest run whose moving-average BER stays below `max_ber`."""
    if len(bit_errors) == 0:
        return 0, 0
    below = moving_ber(bit_errors, window) < max_ber
    edges = np.flatnonzero(np.diff(np.concatenate(([0], below, [0])).astype(np.int8)))
    if len(edges) == 0:
        return 0, 0
    starts, ends = edges[::2], edges[1::2]
    best = int(np.argmax(ends - starts))
    start, end = int(starts[best]), int(ends[best])
    # Smoothing lets the run spill half a window into disagreeing audio; trim items that disagree.
    agree = np.flatnonzero(bit_errors[start:end] < max_ber * _ITEM_BITS)
    if len(agree) == 0:
        return 0, 0
    return start + int(agree[0]), start + int(agree[-1]) + 1


def sharpest_offset(
    query: np.ndarray, source: np.ndarray, offset: int, window: int, max_ber: float
) -> int | None:
    """Of offset - 1, offset, offset + 1, the one with fewest bit errors where any of them agrees.

    Adjacent items are alike, so an offset one item off agrees too (BER ~0.13) over the same
    stretch; only the errors there tell them apart. None when none of the three agrees anywhere.
    """
    start, end = max(0, 1 - offset), min(len(query), len(source) - offset - 1)
    if end - start < 1:
        return None
    shifted = np.stack([source[start + offset + d : end + offset + d] for d in (-1, 0, 1)])
    bit_errors = popcount32(shifted ^ query[start:end])
    agree = (moving_ber(bit_errors, window) < max_ber).any(axis=0)
    if not agree.any():
        return None
    return offset - 1 + int(np.argmin(bit_errors[:, agree].sum(axis=1)))


def _match_at(
    query: np.ndarray, source: np.ndarray, offset: int, window: int, max_ber: float, min_items: int
) -> AudioMatch | None:
    first, bit_errors = item_bit_errors(query, source, offset)
    start, end = longest_agreeing_run(bit_errors, window, max_ber)
    if end - start < min_items:
        return None
    ber = float(bit_errors[start:end].sum()) / (_ITEM_BITS * (end - start))
    if ber > min(max_ber, 0.5 - CHANCE_MARGIN / math.sqrt(end - start)):
        return None
    query_start, query_end = first + start, first + end
    return AudioMatch(
        offset_s=offset * ITEM_SECONDS,
        query_start_s=query_start * ITEM_SECONDS,
        query_end_s=(query_end - 1) * ITEM_SECONDS + ITEM_SPAN_SECONDS,
        source_start_s=(query_start + offset) * ITEM_SECONDS,
        source_end_s=(query_end - 1 + offset) * ITEM_SECONDS + ITEM_SPAN_SECONDS,
        bit_error_rate=ber,
        score=min(1.0, max(0.0, 1.0 - 2.0 * ber)),
        matched_items=end - start,
    )


def _evidence(match: AudioMatch) -> float:
    return match.matched_items * match.score


def locate(
    query: np.ndarray,
    source: np.ndarray,
    *,
    max_ber: float = MATCH_MAX_BER,
    min_run_s: float = MIN_RUN_SECONDS,
    smooth_s: float = SMOOTH_SECONDS,
    candidates: int = VOTE_CANDIDATES,
) -> AudioMatch | None:
    """Where `query`'s audio sits in `source`'s (both raw chromaprint items), or None.

    None for an empty, too short (under ~4 s of audio) or silent query, and when no offset
    agrees for long enough. The query may be longer than the source, or hang over either end:
    only the overlap is compared. Where the source holds the query's audio more than once, the
    best-agreeing place is returned.
    """
    query = np.asarray(query, dtype=np.uint32)
    source = np.asarray(source, dtype=np.uint32)
    if min(len(query), len(source)) < MIN_QUERY_ITEMS:
        return None
    if is_uninformative(query):
        logger.debug("query fingerprint is silence: not evidence of a match")
        return None
    # A query too short to hold a min_run_s run must agree over most of what overlaps instead.
    shorter = min(len(query), len(source))
    most = max(MIN_QUERY_ITEMS, math.ceil(0.75 * shorter))
    min_items = min(math.ceil(min_run_s / ITEM_SECONDS), most)
    window = max(1, min(round(smooth_s / ITEM_SECONDS), shorter))
    best: AudioMatch | None = None
    for peak in strongest_offsets(*offset_votes(query, source), candidates):
        offset = sharpest_offset(query, source, int(peak), window, max_ber)
        if offset is None:
            continue
        match = _match_at(query, source, offset, window, max_ber, min_items)
        if match is not None and (best is None or _evidence(match) > _evidence(best)):
            best = match
    logger.debug("locate: %d query items in %d source items -> %s", len(query), len(source), best)
    return best


def naive_locate(query: np.ndarray, source: np.ndarray) -> tuple[float, float] | None:
    """(offset_s, bit_error_rate) of the best full overlap, trying every offset: the slow baseline.

    One Python iteration per offset (vectorised only within an offset), as a straightforward
    implementation would do; `bench/audio_bench.py` measures `locate` against it.
    """
    query = np.asarray(query, dtype=np.uint32)
    source = np.asarray(source, dtype=np.uint32)
    if len(query) == 0 or len(source) == 0:
        return None
    span = min(len(query), len(source))
    best_offset, best_errors = 0, math.inf
    for offset in range(min(0, len(source) - len(query)), max(0, len(source) - len(query)) + 1):
        start = max(0, -offset)
        window = source[start + offset : start + offset + span]
        errors = int(popcount32(query[start : start + span] ^ window).sum())
        if errors < best_errors:
            best_offset, best_errors = offset, errors
    return best_offset * ITEM_SECONDS, best_errors / (_ITEM_BITS * span)
