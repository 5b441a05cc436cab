"""Pictures found inside a clip's picture (vidsearch.media.insets), on real encoded video: an
inset of any size at any place over moving footage, and two videos side by side."""

import subprocess

import pytest

from vidsearch.clips import clip_vectors
from vidsearch.media.frames import iter_frames
from vidsearch.media.insets import find_boxes
from vidsearch.media.probe import probe


def compose(out, background, inset, graph: str):
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(background), "-i", str(inset), "-filter_complex", graph,
                    "-t", "8", "-an", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(out)],
                   check=True)
    return out


def frames(path, n: int = 12):
    return [f.image for _, f in zip(range(n), iter_frames(str(path), probe(str(path))))]


@pytest.fixture(scope="module")
def footage(video_factory):
    return (video_factory("inset-bg.mp4", seconds=10, size=(640, 360), source="life", audio=False),
            video_factory("inset-fg.mp4", seconds=10, size=(640, 360), source="mandelbrot", audio=False))


@pytest.mark.parametrize("x, y, width", [(0.37, 0.2, 0.45), (0.03, 0.55, 0.3), (0.5, 0.05, 0.6)])
def test_an_inset_is_found_wherever_it_sits(footage, tmp_path, x, y, width):
    background, inset = footage
    graph = (f"[1:v]scale={round(640 * width / 2) * 2}:-2[fg];"
             f"[0:v][fg]overlay={round(640 * x)}:{round(360 * y)}:shortest=1")
    clip = compose(tmp_path / "pip.mp4", background, inset, graph)
    [box, *_] = clip_vectors(str(clip)).boxes
    # 16:9 in a 16:9 frame: as tall a share as it is wide, less what falls off the frame
    seen_w, seen_h = min(width, 1 - x), min(width, 1 - y)
    assert box.x == pytest.approx(x, abs=0.03) and box.width == pytest.approx(seen_w, abs=0.05), box
    assert box.y == pytest.approx(y, abs=0.03) and box.height == pytest.approx(seen_h, abs=0.05), box


def test_two_videos_side_by_side_are_two_boxes(footage, tmp_path):
    background, inset = footage
    clip = compose(tmp_path / "pair.mp4", background, inset, "[0:v]scale=-2:360[a];[1:v]scale=-2:360[b];[a][b]hstack")
    boxes = sorted(find_boxes(frames(clip)), key=lambda b: b[2])
    assert len(boxes) == 2, boxes
    (_, _, _, left_end), (_, _, right_start, _) = boxes
    w = frames(clip, 1)[0].shape[1]
    assert left_end <= w / 2 <= right_start and right_start - left_end <= 0.06 * w, boxes


def test_one_picture_or_one_frame_holds_no_box(footage):
    background, _ = footage
    assert find_boxes(frames(background, 1)) == []  # a still edge cannot be told from an inset's
