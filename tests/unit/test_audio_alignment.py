"""Audio alignment: locating a clip's chromaprint fingerprint inside a source's."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from vidsearch.fingerprints import (
    ITEM_SECONDS,
    decode_items,
    encode_items,
    fingerprint_audio,
    locate,
    naive_locate,
    popcount32,
)

TEARS = "tears_of_steel_battle_clip.webm"  # 70 s: score, effects and dialogue
TEARS_CUT_S = 31.4
# Real soundtracks other than TEARS, to build long sources that do not hold the clip.
OTHERS = [
    "bbb_opening_480p_30s.mp4",
    "google_work_interviews.mp4",
    "man_talking_greenscreen.mp4",
    "chrome_ad_animation.mp4",
    "chaplin_street_scene.mp4",
    "his_girl_friday_dialogue.mp4",
]


def cut_audio(video: Path, start_s: float, seconds: float, target: Path) -> Path:
    """An excerpt re-encoded as a phone or web upload would be: 48 kb/s mono AAC."""
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-ss", str(start_s), "-i", str(video), "-t", str(seconds),
         "-vn", "-ac", "1", "-c:a", "aac", "-b:a", "48k", str(target)],
        check=True,
    )
    return target


@pytest.fixture(scope="module")
def items_of(shared_videos):
    cache: dict[str, np.ndarray] = {}

    def items(name: str) -> np.ndarray:
        if name not in cache:
            cache[name] = fingerprint_audio(str(shared_videos / name)).items
        return cache[name]

    return items


@pytest.fixture(scope="module")
def excerpt(shared_videos, tmp_path_factory):
    root = tmp_path_factory.mktemp("excerpts")

    def make(name: str, start_s: float, seconds: float) -> np.ndarray:
        target = root / f"{Path(name).stem}_{start_s}_{seconds}.m4a"
        fp = fingerprint_audio(str(cut_audio(shared_videos / name, start_s, seconds, target)))
        assert fp.status == "fingerprinted", fp.detail
        return fp.items

    return make


def test_ten_second_excerpt_found_at_its_offset(items_of, excerpt):
    query = excerpt(TEARS, TEARS_CUT_S, 10)
    match = locate(query, items_of(TEARS))
    assert match is not None
    assert abs(match.offset_s - TEARS_CUT_S) <= 0.5
    assert match.bit_error_rate < 0.35
    assert match.score == pytest.approx(1 - 2 * match.bit_error_rate)
    # The whole clip agrees, and the reported spans are the clip's 10 s in both timelines.
    assert match.matched_items >= 0.9 * len(query)
    assert match.query_start_s < 0.5 and abs(match.query_end_s - 10) < 1
    assert abs(match.source_start_s - TEARS_CUT_S) < 0.5
    assert match.source_end_s - match.source_start_s == pytest.approx(
        match.query_end_s - match.query_start_s
    )


@pytest.mark.parametrize(
    ("name", "start_s"),
    [(TEARS, 50.2), ("google_work_interviews.mp4", 12.2), ("chrome_ad_animation.mp4", 20.7)],
)
def test_five_second_excerpt_still_found(items_of, excerpt, name, start_s):
    query = excerpt(name, start_s, 5)
    assert len(query) < 25  # only ~19 items: each one summarises ~2.7 s of audio
    match = locate(query, items_of(name))
    assert match is not None
    assert abs(match.offset_s - start_s) <= 0.5
    assert match.bit_error_rate < 0.35


def test_same_audio_different_encodes_align_at_zero(items_of):
    # 5.1 AAC in MP4 against stereo Vorbis in WebM, encoded separately from the same film.
    match = locate(items_of("bbb_opening_480p_30s.mp4"), items_of("bbb_opening_720p_30s.webm"))
    assert match is not None
    assert abs(match.offset_s) <= 0.5
    assert match.bit_error_rate < 0.25
    assert match.source_end_s - match.source_start_s > 25


@pytest.mark.parametrize(
    ("query_video", "start_s", "source_video"),
    [
        ("man_talking_greenscreen.mp4", 5.0, TEARS),
        (TEARS, TEARS_CUT_S, "bbb_opening_480p_30s.mp4"),
        ("chaplin_street_scene.mp4", 1.0, "google_work_interviews.mp4"),
    ],
)
def test_unrelated_audio_is_not_matched(items_of, excerpt, query_video, start_s, source_video):
    assert locate(excerpt(query_video, start_s, 8), items_of(source_video)) is None


def test_silence_and_missing_audio_are_not_evidence(items_of, excerpt):
    silent = items_of("flower_closeup_silent_audio.webm")
    assert len(silent) > 0 and len(np.unique(silent)) == 1
    assert locate(silent, silent) is None  # identical, but silence agrees with every silence
    assert locate(silent, items_of(TEARS)) is None
    assert locate(np.zeros(0, dtype=np.uint32), items_of(TEARS)) is None
    assert locate(excerpt(TEARS, TEARS_CUT_S, 10), np.zeros(0, dtype=np.uint32)) is None
    # Mostly silence with a little sound is still too little to place.
    mostly_silent = np.concatenate([np.repeat(silent[:1], 60), items_of(TEARS)[:20]])
    assert locate(mostly_silent, items_of(TEARS)) is None


def test_query_longer_than_source_overlaps_partly(items_of, excerpt):
    # The whole soundtrack against a 10 s excerpt of it: the query starts 31.4 s before the source.
    match = locate(items_of(TEARS), excerpt(TEARS, TEARS_CUT_S, 10))
    assert match is not None
    assert abs(match.offset_s + TEARS_CUT_S) <= 0.5
    assert abs(match.query_start_s - TEARS_CUT_S) < 1 and match.source_start_s < 0.5


def test_agreeing_run_is_segmented_out_of_a_longer_query(items_of, excerpt):
    # 12 s of other speech, then the clip: only the clip's part of the query agrees.
    lead_in = items_of("google_work_interviews.mp4")[:100]
    query = np.concatenate([lead_in, excerpt(TEARS, TEARS_CUT_S, 10)])
    match = locate(query, items_of(TEARS))
    assert match is not None
    assert abs(match.offset_s - (TEARS_CUT_S - len(lead_in) * ITEM_SECONDS)) <= 0.5
    assert abs(match.query_start_s - len(lead_in) * ITEM_SECONDS) < 1.0
    assert abs(match.source_start_s - TEARS_CUT_S) < 1.0


def long_source(items_of, hours: float, insert_at: int) -> np.ndarray:
    """Real soundtracks other than TEARS repeated to `hours`, with TEARS's placed at `insert_at`."""
    # Sources come out of the store as encoded text: go through it, as a search would.
    stored = [decode_items(encode_items(items_of(name))) for name in OTHERS]
    others = np.concatenate(stored)
    n_items = round(hours * 3600 / ITEM_SECONDS)
    source = np.tile(others, n_items // len(others) + 1)[:n_items]
    tears = items_of(TEARS)
    source[insert_at : insert_at + len(tears)] = tears
    return source


def test_ten_second_clip_found_in_two_hour_source(items_of, excerpt):
    insert_at = 41_234
    source = long_source(items_of, hours=2, insert_at=insert_at)
    assert len(source) * ITEM_SECONDS >= 7200
    match = locate(excerpt(TEARS, TEARS_CUT_S, 10), source)
    assert match is not None
    assert abs(match.offset_s - (insert_at * ITEM_SECONDS + TEARS_CUT_S)) <= 0.5
    assert match.bit_error_rate < 0.35


def test_naive_locate_agrees_with_locate(items_of, excerpt):
    source = long_source(items_of, hours=0.05, insert_at=700)
    query = excerpt(TEARS, TEARS_CUT_S, 10)
    naive_offset_s, naive_ber = naive_locate(query, source)
    match = locate(query, source)
    assert match is not None
    assert round(match.offset_s / ITEM_SECONDS) == round(naive_offset_s / ITEM_SECONDS)
    assert match.bit_error_rate == pytest.approx(naive_ber)
    assert naive_locate(np.zeros(0, dtype=np.uint32), source) is None


# Corpus-free checks on synthetic items: they run where the shared videos are absent.


def noisy_copy(items: np.ndarray, rng: np.random.Generator, bit_rate: float) -> np.ndarray:
    flips = rng.random((len(items), 32)) < bit_rate
    return items ^ (flips * (1 << np.arange(32, dtype=np.uint64))).sum(axis=1).astype(np.uint32)


def test_synthetic_items_located_despite_bit_noise():
    rng = np.random.default_rng(7)
    source = rng.integers(0, 2**32, size=30_000, dtype=np.uint32)
    query = noisy_copy(source[12_345:12_545], rng, bit_rate=0.08)
    match = locate(query, source)
    assert match is not None
    assert round(match.offset_s / ITEM_SECONDS) == 12_345
    assert 0.04 < match.bit_error_rate < 0.12
    assert match.matched_items >= 190
    assert naive_locate(query, source[12_000:13_000])[0] == pytest.approx(345 * ITEM_SECONDS)
    unrelated = rng.integers(0, 2**32, size=200, dtype=np.uint32)
    assert locate(unrelated, source) is None


def test_popcount_without_numpy_bitwise_count(monkeypatch):
    items = np.random.default_rng(3).integers(0, 2**32, size=5_000, dtype=np.uint32)
    expected = np.unpackbits(items.view(np.uint8)).reshape(-1, 32).sum(axis=1)
    assert np.array_equal(popcount32(items), expected)
    monkeypatch.delattr(np, "bitwise_count", raising=False)  # numpy < 2 has none
    assert np.array_equal(popcount32(items), expected)


def every_other_item_random(items: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A copy agreeing at BER ~0.25: half its items exact (their keys still vote), half random."""
    copy = items.copy()
    copy[1::2] = rng.integers(0, 2**32, size=len(copy[1::2]), dtype=np.uint32)
    return copy


def test_weak_agreement_counts_only_when_long():
    # BER ~0.25 is below MATCH_MAX_BER, but over 20 items unrelated audio gets that close by
    # chance; over 200 items it does not.
    rng = np.random.default_rng(11)
    source = rng.integers(0, 2**32, size=20_000, dtype=np.uint32)
    assert locate(every_other_item_random(source[5_000:5_020], rng), source) is None
    match = locate(every_other_item_random(source[9_000:9_200], rng), source)
    assert match is not None
    assert round(match.offset_s / ITEM_SECONDS) == 9_000
    assert 0.2 < match.bit_error_rate < 0.3
    assert match.matched_items > 190
