"""Clip-to-source alignment on real footage: re-encoded, letterboxed, re-timed and spliced clips
must be found where they were cut; clips from elsewhere, and black frames, must find nothing."""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import numpy as np
import pytest

from vidsearch.alignment import (
    MATCH_THRESHOLD,
    Segment,
    align,
    default_null_vectors,
    align_candidates,
    vote_weights,
)
from vidsearch.embedders.copy import DIM, copy_descriptors
from vidsearch.media.frames import iter_frames
from vidsearch.media.probe import probe

LIBRARY = [
    "tears_of_steel_battle_clip.webm",
    "bbb_opening_480p_30s.mp4",
    "man_talking_greenscreen.mp4",
    "rock_climbing_portrait.mp4",
    "chrome_ad_animation.mp4",
    "tractor_field_vp9.webm",
    "parking_lot_cars_overhead.mp4",
    "toy_crystal_tabletop.mp4",
    "people_walking_one_by_one.mp4",
    "bottle_on_table.mp4",
    "chaplin_street_scene.mp4",
]
TEARS = "tears_of_steel_battle_clip"
BBB = "bbb_opening_480p_30s"
DECOY = "tractor_between_black"
X264 = ["-an", "-c:v", "libx264", "-preset", "ultrafast"]
SMALL = ["-vf", "scale=-2:240", "-crf", "32"]

REENCODINGS = {
    "scale_crf32": SMALL,
    "letterbox": ["-vf", "scale=640:270,pad=640:480:0:105"],
    "brightness_contrast": ["-vf", "eq=brightness=0.12:contrast=1.2"],
    "frame_rate_30": ["-r", "30"],
}


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True)


def cut(src: Path, dst: Path, start: float, seconds: float, *args: str) -> Path:
    ffmpeg("-ss", str(start), "-i", str(src), "-t", str(seconds), *args, *X264, str(dst))
    return dst


def splice(a: Path, a_start: float, b: Path, b_start: float, dst: Path, seconds: float = 8) -> Path:
    """`seconds` of a, then `seconds` of b, scaled to one size (ffmpeg's concat filter)."""
    same = "scale=480:240,setsar=1,fps=24"
    ffmpeg(
        "-ss", str(a_start), "-t", str(seconds), "-i", str(a),
        "-ss", str(b_start), "-t", str(seconds), "-i", str(b),
        "-filter_complex", f"[0:v]{same}[a];[1:v]{same}[b];[a][b]concat=n=2:v=1:a=0[v]",
        "-map", "[v]", *X264, str(dst),
    )  # fmt: skip
    return dst


def vectors(path: Path) -> tuple[np.ndarray, np.ndarray]:
    frames = list(iter_frames(str(path), probe(str(path))))
    return copy_descriptors([f.image for f in frames]), np.array([f.second for f in frames])


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("alignment")


@pytest.fixture(scope="module")
def library(shared_videos, work) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    lib = {Path(name).stem: vectors(shared_videos / name) for name in LIBRARY}
    # Unrelated footage between 4 s of black on either side: black frames to be falsely matched.
    decoy = work / "decoy.mp4"
    pad = "tpad=start_duration=4:stop_duration=4:color=black"
    ffmpeg("-i", str(shared_videos / "tractor_field_vp9.webm"), "-vf", pad, *X264, str(decoy))
    lib[DECOY] = vectors(decoy)
    return lib


def only(matches: list, video_id: str) -> Segment:
    assert [v for v, _ in matches] == [video_id], matches
    return matches[0][1]


def assert_found_at(segment: Segment, cut_at: float, query_end: float) -> None:
    """The segment covers the clip from its start to query_end and lies where it was cut."""
    assert segment.query_start_s <= 1.0
    assert abs(segment.query_end_s - query_end) <= 1.0
    assert abs(segment.source_start_s - (cut_at + segment.query_start_s)) <= 1.0, segment
    assert segment.score >= MATCH_THRESHOLD


@pytest.mark.parametrize("name", REENCODINGS)
def test_reencoded_clip_is_found_where_it_was_cut(shared_videos, work, library, name):
    clip = cut(shared_videos / f"{TEARS}.webm", work / f"{name}.mp4", 23.4, 20, *REENCODINGS[name])
    query, _ = vectors(clip)
    segment = only(align_candidates(query, library), TEARS)
    assert_found_at(segment, 23.4, query_end=20.0)
    assert segment.matched_frames >= 15
    # Against the source alone, the same answer.
    source, seconds = library[TEARS]
    assert align(query, source, source_seconds=seconds)[0] == segment


@pytest.mark.parametrize("speed", [0.8, 1.25])
def test_sped_up_or_slowed_clip_spans_the_source_it_plays(shared_videos, work, library, speed):
    # 16 s of moving footage playing the source at `speed`. (Over a still shot
    # every speed fits alike, and speed 1 is reported.)
    clip = cut(shared_videos / f"{TEARS}.webm", work / f"speed_{speed}.mp4", 23.4, 16,
               "-vf", f"setpts=PTS/{speed},scale=-2:360")
    query, _ = vectors(clip)
    segment = only(align_candidates(query, library), TEARS)
    assert segment.speed == pytest.approx(speed, abs=0.03)
    assert abs(segment.source_start_s - (23.4 + speed * segment.query_start_s)) <= 1.0, segment
    source_span = segment.source_end_s - segment.source_start_s
    assert source_span == pytest.approx(speed * (segment.query_end_s - segment.query_start_s), rel=0.1)
    assert segment.query_end_s - segment.query_start_s >= 0.75 * 16


@pytest.mark.parametrize("rate", ["24", "30"])
def test_clip_at_its_own_speed_reports_speed_one(shared_videos, work, library, rate):
    clip = cut(shared_videos / f"{TEARS}.webm", work / f"speed_1_{rate}.mp4", 23.4, 16, "-r", rate, *SMALL)
    query, _ = vectors(clip)
    assert only(align_candidates(query, library), TEARS).speed == 1.0


def test_clip_spliced_from_two_sources_gives_one_segment_each(shared_videos, work, library):
    tears, bbb = shared_videos / f"{TEARS}.webm", shared_videos / f"{BBB}.mp4"
    query, _ = vectors(splice(tears, 10.5, bbb, 12.6, work / "two.mp4"))
    matches = sorted(align_candidates(query, library), key=lambda m: m[1].query_start_s)
    assert [v for v, _ in matches] == [TEARS, BBB], matches
    (_, a), (_, b) = matches
    assert abs(a.query_start_s - 0) <= 1 and abs(a.query_end_s - 8) <= 1
    assert abs(b.query_start_s - 8) <= 1 and abs(b.query_end_s - 16) <= 1
    assert abs(a.source_start_s - (10.5 + a.query_start_s)) <= 1
    assert abs(b.source_start_s - (12.6 + b.query_start_s - 8)) <= 1
    assert a.query_end_s <= b.query_start_s  # each query second goes to one source


def test_two_pieces_of_one_source_give_two_segments(shared_videos, work, library):
    tears = shared_videos / f"{TEARS}.webm"
    query, _ = vectors(splice(tears, 2.0, tears, 40.3, work / "pieces.mp4", seconds=7))
    source, seconds = library[TEARS]
    segments = sorted(align(query, source, source_seconds=seconds), key=lambda s: s.query_start_s)
    assert len(segments) == 2, segments
    first, second = segments
    assert abs(first.query_start_s - 0) <= 1 and abs(first.query_end_s - 7) <= 1
    assert abs(second.query_start_s - 7) <= 1 and abs(second.query_end_s - 14) <= 1
    assert first.query_end_s <= second.query_start_s
    assert abs(first.source_start_s - (2.0 + first.query_start_s)) <= 1
    assert abs(second.source_start_s - (40.3 + second.query_start_s - 7)) <= 1


@pytest.mark.parametrize("name, start", [(TEARS, 31.0), (TEARS, 52.0)])
def test_a_short_loop_gives_each_repetition_its_segment(shared_videos, work, library, name, start):
    # 4 s played three times over: each repetition is a segment of the same source stretch, not one
    # line loosely following the clip through its jumps.
    src = next(shared_videos.glob(f"{name}.*"))
    piece = cut(src, work / f"piece-{name}.mp4", start, 4)
    loop = work / f"loop-{name}.mp4"
    ffmpeg("-stream_loop", "2", "-i", str(piece), *X264, str(loop))
    query, _ = vectors(loop)
    found = sorted((s for v, s in align_candidates(query, library) if v == name), key=lambda s: s.query_start_s)
    assert len(found) == 3, found
    for k, segment in enumerate(found):
        assert abs(segment.query_start_s - 4 * k) <= 1 and abs(segment.query_end_s - 4 * (k + 1)) <= 1, found
        assert abs(segment.source_start_s - (start + segment.query_start_s - 4 * k)) <= 1, found


@pytest.mark.parametrize(
    "name, start, seconds",
    [
        ("google_work_interviews.mp4", 5.0, 12),
        ("apollo_lunar_surface_vp9.mp4", 20.0, 15),
        ("his_girl_friday_dialogue.mp4", 0.5, 5),
        ("space_shuttle_in_orbit.webm", 1.0, 8),
        ("bbb_opening_720p_30s.webm", 3.0, 15),  # bbb 480p is in the library: its twin is not
    ],
)
def test_clip_from_elsewhere_matches_nothing(shared_videos, work, library, name, start, seconds):
    clip = cut(shared_videos / name, work / f"neg_{Path(name).stem}.mp4", start, seconds, *SMALL)
    query, _ = vectors(clip)
    if name.startswith("bbb"):
        # The twin encode is the same film: it is found, and nothing once it is left out.
        assert_found_at(only(align_candidates(query, library), BBB), start, query_end=seconds)
        library = {k: v for k, v in library.items() if k != BBB}
    assert align_candidates(query, library) == []


def test_dark_clip_with_fade_to_black_matches_only_its_source(shared_videos, work, library):
    # 6 s of dark footage, a 2 s fade out, 4 s of black; the decoy has 8 s of black.
    fade = "scale=-2:320,fade=out:st=6:d=2,tpad=stop_duration=4:color=black"
    dark = shared_videos / "rock_climbing_portrait.mp4"
    clip = cut(dark, work / "dark.mp4", 5.0, 12, "-vf", fade)
    query, _ = vectors(clip)
    assert len(query) == 12
    segment = only(align_candidates(query, library), "rock_climbing_portrait")
    assert_found_at(segment, 5.0, query_end=8.0)
    without_source = {k: v for k, v in library.items() if k != "rock_climbing_portrait"}
    assert align_candidates(query, without_source) == []


def test_black_frames_never_match_black_frames(shared_videos, work, library):
    head = "scale=-2:240,tpad=start_duration=5:color=black"
    clip = cut(shared_videos / f"{TEARS}.webm", work / "black_head.mp4", 3.0, 12, "-vf", head)
    query, _ = vectors(clip)
    matches = align_candidates(query, library)
    assert [v for v, _ in matches] == [TEARS], matches
    assert matches[0][1].query_start_s >= 4.0
    # Without the flat-frame vector as a null, the black stretches would align: the guard matters.
    unguarded = align_candidates(query, library, null_vectors=np.zeros((0, DIM), np.float32))
    assert DECOY in [v for v, _ in unguarded]


def test_clip_longer_than_its_source(shared_videos, work, library):
    whole = shared_videos / "tractor_field_vp9.webm"
    other = shared_videos / "google_work_interviews.mp4"
    tractor = vectors(cut(whole, work / "tractor.mp4", 0, 10, *SMALL))[0]
    filler = vectors(cut(other, work / "filler.mp4", 0, 12, *SMALL))[0]
    query = np.concatenate([filler[:6], tractor, filler[6:12]])  # 6 s + the whole source + 6 s
    source, seconds = library["tractor_field_vp9"]
    assert len(query) > len(source) + 10
    segments = align(query, source, source_seconds=seconds)
    assert len(segments) == 1, segments
    assert abs(segments[0].query_start_s - 6) <= 1
    assert abs(segments[0].query_end_s - (6 + len(tractor))) <= 1
    assert segments[0].source_start_s <= 1.0


# Vector-level cases: no decoding, exact expectations.


def random_unit(rng: np.random.Generator, n: int, d: int = DIM) -> np.ndarray:
    x = rng.normal(size=(n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def noisy(x: np.ndarray, rng: np.random.Generator, sigma: float = 0.05) -> np.ndarray:
    y = x + sigma * rng.normal(size=x.shape)
    return (y / np.linalg.norm(y, axis=1, keepdims=True)).astype(np.float32)


def test_offset_and_source_seconds_are_used():
    rng = np.random.default_rng(0)
    source = random_unit(rng, 60)
    query = noisy(source[17:29], rng)
    seconds = 100.0 + np.arange(60) * 0.5  # sampled at 2 fps, starting at 100 s
    (segment,) = align(query, source, fps=2.0, source_seconds=seconds)
    assert (segment.query_start_s, segment.query_end_s) == (0.0, 6.0)
    assert segment.source_start_s == pytest.approx(108.5)
    assert segment.source_end_s == pytest.approx(114.5)
    assert segment.matched_frames == 12


@pytest.mark.parametrize("m, n", [(0, 9), (9, 0), (1, 9), (2, 9), (9, 1), (9, 2), (1, 1), (2, 2)])
def test_too_few_frames_is_never_a_match(m, n):
    frames = random_unit(np.random.default_rng(1), max(m, n))
    # Even identical frames: one or two frames are never enough evidence.
    assert align(frames[:m].reshape(m, DIM), frames[:n].reshape(n, DIM)) == []


def test_three_identical_frames_are_enough():
    frames = random_unit(np.random.default_rng(2), 3)
    (segment,) = align(frames, frames)
    assert segment.matched_frames == 3 and segment.score >= MATCH_THRESHOLD


def test_frames_like_many_source_frames_do_not_drive_the_vote():
    rng = np.random.default_rng(3)
    flat = random_unit(rng, 1)  # stands for a black frame: the source holds ten of them
    black = np.repeat(flat, 10, axis=0)
    source = np.concatenate([random_unit(rng, 20), black, random_unit(rng, 20)])
    query = np.concatenate([np.repeat(flat, 4, axis=0), noisy(source[5:13], rng)])
    weights = vote_weights(query @ source.T)
    assert weights[:4].max() < 0.2 and weights[4:].min() > 0.9
    best = align(query, source)[0]
    assert (best.query_start_s, best.query_end_s, best.source_start_s) == (4.0, 12.0, 5.0)
    # Declared a null, the flat frame cannot form a segment of its own either.
    (segment,) = align(query, source, null_vectors=flat)
    assert segment == best


def test_flat_frame_vector_is_a_null_only_for_copy_descriptors():
    assert default_null_vectors(DIM).shape == (1, DIM)
    assert default_null_vectors(512).shape == (0, 512)


def test_segment_is_frozen_and_source_seconds_are_checked():
    segment = Segment(0.0, 3.0, 10.0, 13.0, 0.9, 3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        segment.score = 1.0  # type: ignore[misc]
    frames = random_unit(np.random.default_rng(4), 5)
    with pytest.raises(ValueError):
        align(frames, frames, source_seconds=np.arange(4.0))
