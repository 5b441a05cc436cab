"""Shot boundaries on generated videos whose cuts and transitions are at known frames."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from tests.conftest import SOURCES
from vidsearch.media.frames import iter_frames
from vidsearch.media.probe import probe
from vidsearch.media.shots import ShotDetector, rgb_signature, signature
from vidsearch.scenes import scenes_from

FPS = 25
# (source, seconds) joined by the transition before each: cut at 3.0 s, a 1 s cross-dissolve
# centred at 6.5 s, a 1 s fade through black centred at 9.5 s, a cut at 12.5 s.
SHOTS = [("testsrc2", 3.0), ("mandelbrot", 4.0), ("life", 4.0), ("cellauto", 3.5), ("testsrc2", 3.0)]
JOINS = [("cut", 0), ("fade", 1.0), ("fadeblack", 1.0), ("cut", 0)]
TRUTH = [3.0, 6.5, 9.5, 12.5]


def _edited(path, shots=SHOTS, joins=JOINS):
    """One video of the shots with the joins between them (ffmpeg's xfade for the gradual ones)."""
    inputs, parts = [], []
    for i, (source, seconds) in enumerate(shots):
        inputs += ["-f", "lavfi", "-t", str(seconds), "-i", SOURCES[source].format(w=320, h=240, fps=FPS)]
        # testsrc2 a second time starts later in its own clock: a different picture from the first.
        parts.append(f"[{i}:v]format=yuv420p,setpts=PTS-STARTPTS,settb=1/{FPS}[s{i}]")
    graph, last, length = parts, "s0", shots[0][1]
    for i, (kind, seconds) in enumerate(joins, start=1):
        out = f"j{i}"
        if kind == "cut":
            graph.append(f"[{last}][s{i}]concat=n=2:v=1:a=0,settb=1/{FPS}[{out}]")
        else:
            graph.append(f"[{last}][s{i}]xfade=transition={kind}:duration={seconds}:offset={length - seconds}[{out}]")
        length += shots[i][1] - seconds
        last = out
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", *inputs, "-filter_complex", ";".join(graph), "-map", f"[{last}]",
         "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-r", str(FPS), str(path)],
        check=True,
    )
    return path


@pytest.fixture(scope="module")
def edited(tmp_path_factory):
    return _edited(tmp_path_factory.mktemp("shots") / "edited.mp4")


def _found(path, decoder="pyav", **kwargs):
    meta = probe(str(path))
    detector = ShotDetector(meta.fps)
    frames = list(iter_frames(str(path), meta, decoder=decoder, shots=detector, **kwargs))
    return detector, frames


@pytest.mark.parametrize("decoder", ["pyav", "decord"])
def test_cuts_and_gradual_transitions_found_where_they_are(edited, decoder):
    detector, frames = _found(edited, decoder)
    found = detector.boundaries()
    assert [b.kind for b in found] == ["cut", "gradual", "gradual", "cut"], found
    assert np.allclose([b.second for b in found], TRUTH, atol=0.25), found
    # Cuts are frame-accurate: the first frame of the new shot.
    assert abs(found[0].second - 3.0) <= 1 / FPS and abs(found[3].second - 12.5) <= 1 / FPS
    # Every decoded frame was seen, and the sampled frames are the same as without the detector.
    assert len(detector) >= 15 * FPS
    plain = list(iter_frames(str(edited), probe(str(edited)), decoder=decoder))
    assert [f.second for f in frames] == [f.second for f in plain]


def test_motion_within_one_shot_is_no_boundary(video_factory):
    # testsrc2 scrolls and counts; mandelbrot zooms: moving pictures, one shot each.
    for source in ("testsrc2", "mandelbrot"):
        path = video_factory(f"one-shot-{source}.mp4", seconds=8, source=source, audio=False)
        detector, _ = _found(path)
        assert detector.boundaries() == [], source


def test_fade_in_and_out_of_black_opens_and_closes_the_shot(tmp_path):
    path = tmp_path / "faded.mp4"
    source = SOURCES["testsrc2"].format(w=320, h=240, fps=FPS)
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-t", "6", "-i", source,
         "-vf", "fade=t=in:st=0:d=1,fade=t=out:st=5:d=1", "-c:v", "libx264", "-preset", "ultrafast",
         "-pix_fmt", "yuv420p", str(path)],
        check=True,
    )
    detector, _ = _found(path)
    assert detector.boundaries() == []


def test_parts_of_a_video_find_the_boundaries_of_the_whole(edited):
    """Long videos are decoded in parts: each part owns the boundaries in its samples."""
    from vidsearch.frame_batches import VideoPart

    meta = probe(str(edited))
    owned = []
    for first, end in [(0, 6), (6, 11), (11, 16)]:
        part = VideoPart("v", str(edited), meta, first, end)
        detector = ShotDetector(meta.fps)
        list(iter_frames(str(edited), meta, decoder="pyav", shots=detector, first=first, end=end))
        found = detector.boundaries(opens=first == 0, closes=end >= 16)
        owned += [b.second for b in found if part.owns(b, 1.0)]
    assert np.allclose(sorted(owned), TRUTH, atol=0.25), owned


def test_signatures_from_planes_and_from_rgb_agree():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (90, 160, 3), dtype=np.uint8)
    image[:45] //= 4  # a dark top half
    from_rgb = rgb_signature(image)
    rgb = image.astype(np.float32)
    y = (0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]).astype(np.uint8)
    from_luma = signature(y)
    assert np.abs(from_rgb[:144] - from_luma[:144]).max() < 0.02  # the luma grids agree
    assert from_rgb[:72].mean() < from_rgb[72:144].mean()  # the dark half reads dark


def test_scenes_cover_the_video_and_show_a_frame_inside():
    scenes = scenes_from([(13.0, "cut"), (3.0, "cut"), (6.5, "gradual")], duration_s=16.0, fps=1.0, frames=16)
    assert [(s.start_s, s.end_s, s.opens_with) for s in scenes] == [
        (0.0, 3.0, "start"), (3.0, 6.5, "cut"), (6.5, 13.0, "gradual"), (13.0, 16.0, "cut")
    ]
    assert all(s.start_s <= s.frame <= s.end_s for s in scenes)
    assert [s.start_s for s in scenes_from([], 5.0, 1.0, 5)] == [0.0]


def test_a_fade_through_black_that_dims_at_once_is_one_boundary():
    """A picture that drops to dim in one frame, fades to black, holds, comes back dim and jumps
    to the next shot reads as a cut into the fade and one out of it: they are one boundary, in
    the black."""
    rng = np.random.default_rng(4)
    a, b = (rng.integers(60, 255, size=(72, 128), dtype=np.uint8) for _ in range(2))
    levels = [1.0] * 25 + [0.35, 0.25, 0.15, 0.06, 0.0, 0.0, 0.0, 0.06, 0.15, 0.25, 0.35] + [1.0] * 25
    detector = ShotDetector(fps=10.0)
    for i, level in enumerate(levels):
        picture = a if i < 30 else b
        detector.add(i / 10, signature((picture * level).astype(np.uint8)))
    found = detector.boundaries()
    assert len(found) == 1 and 2.8 <= found[0].second <= 3.2, found
