"""Short clips played faster or slower: their speed read from the clip's dense frames against the
source's 1 fps ones (alignment.refine_speed), and the source span that follows it."""

import subprocess
from dataclasses import replace

import numpy as np
import pytest

from tests.conftest import copy_library, register_videos
from vidsearch.alignment import Segment, refine_speed
from vidsearch.clips import FINE_FPS, clip_vectors
from vidsearch.matching import match_clip

SHUTTLE, TOY = "space_shuttle_in_orbit.webm", "toy_crystal_tabletop.mp4"
LIBRARY = [SHUTTLE, TOY, "tears_of_steel_battle_clip.webm", "chaplin_street_scene.mp4", "bottle_on_table.mp4"]


def footage(dim: int = 63, seed: int = 0):
    """Frames of a moving picture as a function of time: unit vectors that turn a quarter of the
    way round in about half a second, so a frame a second away looks unlike it."""
    rng = np.random.default_rng(seed)
    rates, phases, mix = rng.uniform(0.5, 3.0, 24), rng.uniform(0, 2 * np.pi, 24), rng.normal(size=(48, dim))

    def frames(t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, dtype=np.float64)[:, None]
        v = np.hstack([np.cos(rates * t + phases), np.sin(rates * t + phases)]) @ mix
        v += rng.normal(scale=0.05, size=v.shape)  # re-encoding
        return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)

    return frames


def played(speed: float, start: float = 20.0, seconds: float = 7.0, fine_fps: float = 4.0, frames=None):
    """The 1 fps source, and the clip sampled densely; with what 1 fps alignment would report:
    speed 1 and a start half a second off."""
    frames = frames or footage()
    source_seconds = np.arange(60.0)
    fine_seconds = np.arange(0, seconds, 1 / fine_fps)
    coarse = Segment(query_start_s=0.0, query_end_s=seconds, source_start_s=start + 0.5,
                     source_end_s=start + 0.5 + seconds, score=0.8, matched_frames=int(seconds))
    return coarse, fine_seconds, frames(start + speed * fine_seconds), source_seconds, frames(source_seconds)


@pytest.mark.parametrize("speed", [0.8, 0.9, 1.1, 1.25])
def test_speed_read_from_dense_frames(speed):
    segment = refine_speed(*played(speed))
    assert segment.speed == pytest.approx(speed, abs=0.02)
    assert segment.source_start_s == pytest.approx(20.0, abs=0.2)
    assert segment.source_end_s == pytest.approx(20.0 + 7 * speed, abs=0.3)
    assert (segment.query_start_s, segment.query_end_s) == (0.0, 7.0)


def test_clip_at_its_own_speed_stays_at_speed_one():
    for seed in range(5):
        segment = refine_speed(*played(1.0, frames=footage(seed=seed)))
        assert segment.speed == 1.0
        assert segment.source_start_s == pytest.approx(20.0, abs=0.2)


def test_a_still_shot_keeps_what_the_alignment_said():
    coarse, fine_seconds, _, source_seconds, source = played(1.25)
    still = np.tile(source[20], (len(fine_seconds), 1))
    assert refine_speed(coarse, fine_seconds, still, source_seconds, np.tile(source[20], (60, 1))) == coarse


def test_a_speed_at_the_ends_of_the_range_may_be_no_reading():
    # Played at 1.4x, faster than any speed read (0.75-1.30): the fit's best is the range's end.
    # The whole picture reads it (a 1.25x clip often fits best there); strictly (through a
    # window), the alignment's speed stands.
    coarse, *rest = played(1.4)
    assert refine_speed(coarse, *rest).speed == 1.3
    assert refine_speed(coarse, *rest, strict=True).speed == 1.0
    assert refine_speed(replace(coarse, speed=1.25), *rest, strict=True).speed == 1.25
    assert refine_speed(*played(1.2), strict=True).speed == pytest.approx(1.2, abs=0.02)


def test_strictly_a_segment_moves_only_with_another_speed():
    # At its own speed the clip's placed frames would move the start half a second (to 20.0);
    # strictly, what the alignment said stands.
    coarse, *rest = played(1.0)
    assert refine_speed(coarse, *rest).source_start_s == pytest.approx(20.0, abs=0.2)
    assert refine_speed(coarse, *rest, strict=True) == coarse


def test_the_speed_the_alignment_read_stands_unless_the_frames_say_otherwise():
    coarse, *rest = played(1.25)
    segment = refine_speed(replace(coarse, speed=1.25), *rest)
    assert segment.speed == pytest.approx(1.25, abs=0.02)


@pytest.fixture(scope="module")
def indexed(shared_videos):
    return copy_library(shared_videos, LIBRARY)


@pytest.fixture
def library(store, indexed):
    index, paths = indexed
    register_videos(store, paths)
    return index


def cut(src, out, start: float, speed: float, seconds: float, *vf: str):
    """`seconds` of clip playing the source from `start` at `speed`, as an editor retimes it."""
    graph = ",".join([f"setpts=(PTS-STARTPTS)/{speed}", *vf, "scale=trunc(iw/2)*2:trunc(ih/2)*2"])
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-ss", str(start), "-t", str(seconds * speed), "-i", str(src),
                    "-vf", graph, "-an", "-c:v", "libx264", "-preset", "veryfast", "-crf", "26", str(out)], check=True)
    return out


# Seven to nine seconds: seven to nine frames at 1 fps, over which speed 1 explained the frames
# as well as the true speed, and was reported.
@pytest.mark.parametrize(("name", "start", "speed", "seconds", "vf"), [
    (SHUTTLE, 1.0, 0.8, 9.0, ()),
    (SHUTTLE, 0.7, 1.25, 7.0, ()),
    (TOY, 1.85, 1.1, 8.0, ()),
    (TOY, 1.0, 1.25, 8.0, ("hflip",)),  # mirrored: read against the mirrored source
])
def test_short_retimed_clip_reports_its_speed_and_the_source_it_plays(shared_videos, tmp_path, store, library,
                                                                      name, start, speed, seconds, vf):
    clip = clip_vectors(str(cut(shared_videos / name, tmp_path / "retimed.mp4", start, speed, seconds, *vf)))
    assert clip.fine_copy is not None and len(clip.fine_copy) >= FINE_FPS * (seconds - 1)
    [found, *_] = match_clip(store, library, clip)
    assert found.path.endswith(name) and found.flipped == bool(vf), found
    assert found.speed == pytest.approx(speed, abs=0.03), found
    assert found.query_end_s <= seconds + 0.1, found  # never past the clip's end
    assert abs(found.source_start_s - (start + speed * found.query_start_s)) <= 0.5, found
    assert abs(found.source_end_s - (start + speed * found.query_end_s)) <= 0.6, found


# Cut to another shape and retimed at once: the window is aligned at speed 1, then its speed is
# read through it from the clip's dense frames.
@pytest.mark.parametrize(("speed", "crop"), [
    (1.2, "crop=trunc(ih*9/16/2)*2:ih:(iw-ow)*0.3:0"),  # a 9:16 vertical cut
    (0.85, "crop=iw*0.75:ih:iw*0.25:0"),  # a quarter cut from the left
])
def test_retimed_crop_reports_its_speed_and_the_source_it_plays(shared_videos, tmp_path, store, library,
                                                               speed, crop):
    start, seconds = 1.0, 9.0
    clip = clip_vectors(str(cut(shared_videos / TOY, tmp_path / "crop.mp4", start, speed, seconds, crop)))
    [found, *_] = match_clip(store, library, clip)
    # A window compares fewer coefficients than the whole picture: its speed is read to about 0.05.
    assert found.path.endswith(TOY) and found.crop is not None, found
    assert found.speed == pytest.approx(speed, abs=0.06), found
    assert abs(found.source_start_s - (start + speed * found.query_start_s)) <= 0.5, found
    assert abs(found.source_end_s - (start + speed * found.query_end_s)) <= 0.6, found


def test_short_clip_at_its_own_speed_reports_speed_one(shared_videos, tmp_path, store, library):
    clip = clip_vectors(str(cut(shared_videos / SHUTTLE, tmp_path / "same.mp4", 1.2, 1.0, 7.7, "fps=24")))
    [found, *_] = match_clip(store, library, clip)
    assert found.path.endswith(SHUTTLE) and found.speed == 1.0, found


def test_the_source_span_stays_within_the_source():
    # A clip whose first half second comes before the source's first frame (the source was trimmed).
    coarse, *rest = played(1.25, start=-0.5)
    segment = refine_speed(replace(coarse, source_start_s=0.0, source_end_s=7.0), *rest)
    assert segment.speed == pytest.approx(1.25, abs=0.02)
    assert segment.source_start_s == 0.0
    assert segment.source_end_s == pytest.approx(-0.5 + 7 * 1.25, abs=0.3)
    # And one that runs past its last.
    coarse, *rest = played(1.25, start=52.0)
    segment = refine_speed(replace(coarse, source_start_s=52.0, source_end_s=60.0), *rest)
    assert segment.source_end_s <= 60.0


def test_a_frame_placed_late_in_a_clip_at_an_unread_speed_does_not_move_its_start():
    # Still footage but for one brief change 6 s in; played at 0.8x, the clip shows it at 7.5 s.
    # One placed frame cannot tell the speed, and carried back from 7.5 s at speed 1 it would
    # put the start 1.5 s early; the alignment's line through the middle is nearer.
    rng = np.random.default_rng(3)
    still, change = rng.normal(size=63), rng.normal(size=63)

    def frames(t):
        t = np.asarray(t, dtype=np.float64)[:, None]
        v = still + 3 * np.exp(-(((t - 26.0) / 0.3) ** 2)) * change + rng.normal(scale=0.01, size=(len(t), 63))
        return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)

    coarse, fine_seconds, _, source_seconds, _ = played(0.8, seconds=9.0)
    coarse = replace(coarse, source_start_s=19.1, source_end_s=28.1)
    segment = refine_speed(coarse, fine_seconds, frames(20.0 + 0.8 * fine_seconds), source_seconds,
                           frames(source_seconds))
    assert (segment.speed, segment.source_start_s) == (1.0, 19.1)
    # The same change early in the clip (1.5 s in) pins the start nearer the truth (24.8) than
    # the line had it: 26 - 1.5 at speed 1.
    coarse = replace(coarse, source_start_s=24.1, source_end_s=33.1)
    segment = refine_speed(coarse, fine_seconds, frames(24.8 + 0.8 * fine_seconds), source_seconds,
                           frames(source_seconds))
    assert segment.source_start_s == pytest.approx(24.5, abs=0.1)
