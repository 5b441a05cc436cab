"""The copy descriptor must survive what a re-upload does to a frame, and still tell frames apart."""

import subprocess

import numpy as np
import pytest

from vidsearch.embedders.copy import (
    DIM,
    HFLIP,
    content_box,
    copy_descriptor,
    copy_descriptors,
    INSET_WINDOWS,
    inset_descriptors,
    inset_images,
)
from vidsearch.media.frames import iter_frames
from vidsearch.media.probe import probe

TRANSFORMS = {
    "crf35_240p": ["-vf", "scale=-2:240", "-crf", "35"],
    "letterbox": ["-vf", "scale=640:270,pad=640:480:0:105"],
    "crop10": ["-vf", "crop=iw*0.9:ih*0.9"],
    "brighter": ["-vf", "eq=brightness=0.12:contrast=1.2"],
}


def vectors(path):
    return copy_descriptors([f.image for f in iter_frames(str(path), probe(str(path)))])


def test_shape_and_norm():
    rng = np.random.default_rng(0)
    v = copy_descriptor(rng.integers(0, 255, (120, 200, 3), dtype=np.uint8))
    assert v.shape == (DIM,) and v.dtype == np.float32
    assert np.linalg.norm(v) == pytest.approx(1, abs=1e-5)
    flat = copy_descriptor(np.zeros((90, 160, 3), np.uint8))
    assert np.linalg.norm(flat) == pytest.approx(1)


def test_a_mirrored_frame_is_the_sign_mask_of_the_original():
    rng = np.random.default_rng(1)
    image = rng.integers(0, 255, (90, 161, 3), dtype=np.uint8)
    image[:, :40] //= 3  # an asymmetric picture: mirroring it changes its descriptor
    plain, mirrored = copy_descriptor(image), copy_descriptor(np.ascontiguousarray(image[:, ::-1]))
    assert float(plain @ mirrored) < 0.9
    assert float((plain * HFLIP) @ mirrored) == pytest.approx(1, abs=1e-4)


@pytest.mark.parametrize("shape", [(180, 320), (134, 320), (240, 320)], ids=["16:9", "2.39:1", "4:3"])
def test_an_inset_at_half_width_is_found_in_its_corner_window(shape):
    from PIL import Image

    rng = np.random.default_rng(2)

    def picture(h, w):  # smooth content, as video frames have
        return np.asarray(Image.fromarray(rng.integers(0, 255, (6, 8, 3), dtype=np.uint8)).resize((w, h), Image.Resampling.BICUBIC))

    h, w = shape
    source, composed = picture(h, w), picture(360, 640).copy()
    composed[356 - h : 356, 316:636] = source  # in the bottom right corner, 4 px off the edges
    windows = inset_descriptors(composed)
    assert windows.shape == (len(INSET_WINDOWS), DIM)
    similarity = windows @ copy_descriptor(source)
    best = int(np.argmax(similarity))
    assert INSET_WINDOWS[best][0] == "bottom_right" and similarity[best] > 0.9


def test_letterbox_is_cut_away():
    grey = np.full((100, 200), 120.0)
    grey[:20] = grey[-20:] = 0
    assert content_box(grey) == (20, 80, 0, 200)


@pytest.mark.parametrize("name", TRANSFORMS)
def test_robust_to_reencoding(shared_videos, tmp_path, name):
    src = shared_videos / "tears_of_steel_battle_clip.webm"
    out = tmp_path / f"{name}.mp4"
    cmd = ["ffmpeg", "-v", "error", "-i", str(src), "-t", "30", *TRANSFORMS[name], "-an", "-c:v", "libx264", "-preset", "ultrafast"]
    if "-crf" not in TRANSFORMS[name]:
        cmd += ["-crf", "23"]
    subprocess.run([*cmd, str(out)], check=True)
    original, copied = vectors(src)[:30], vectors(out)[:30]
    sims = copied @ original.T
    same_second = np.diag(sims)
    # Most frames find their own second; the rest are close in time (similar shots).
    assert np.median(same_second) > 0.9
    assert np.mean(np.abs(sims.argmax(axis=1) - np.arange(len(sims))) <= 1) > 0.8


def test_unrelated_videos_differ(shared_videos):
    a = vectors(shared_videos / "bbb_opening_480p_30s.mp4")
    b = vectors(shared_videos / "people_walking_one_by_one.mp4")
    assert np.median((a @ b.T).max(axis=1)) < 0.8


# A 16:9 picture put in a frame the way re-uploads do: bars of any colour, or centred in a tall
# 9:16 frame over a blurred, coloured or mirrored fill.
TALL = "scale=360:-2,setsar=1"
REFRAMES = {
    "grey_letterbox": "scale=640:270,pad=640:400:0:65:color=0x808080",
    "colour_pillarbox": "scale=-2:360,pad=iw+200:ih:100:0:color=0xC83C5A",
    "tall_colour_fill": f"{TALL},pad=360:640:0:(oh-ih)/2:color=0x1EA03C",
    "tall_blur_fill": "split[a][b];[a]scale=-2:640,crop=360:640,boxblur=20[bg];[b]scale=360:-2[fg];"
    "[bg][fg]overlay=0:(H-h)/2",
    "tall_mirror_fill": f"{TALL},split=3[m][t][u];[t]vflip[t2];[u]vflip[u2];[t2][m][u2]vstack=3,"
    "pad=360:640:0:(oh-ih)/2",  # a wide film, mirrored above and below, still short of 9:16
}


@pytest.mark.parametrize("name", REFRAMES)
def test_borders_of_any_kind_are_cut_away(shared_videos, tmp_path, name):
    src = shared_videos / "tears_of_steel_battle_clip.webm"
    out = tmp_path / f"{name}.mp4"
    cmd = ["ffmpeg", "-v", "error", "-ss", "20", "-t", "10", "-i", str(src), "-filter_complex", REFRAMES[name]]
    subprocess.run([*cmd, "-an", "-c:v", "libx264", "-preset", "ultrafast", str(out)], check=True)
    plain = tmp_path / "plain.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-ss", "20", "-t", "10", "-i", str(src), "-an", "-c:v", "libx264",
                    "-preset", "ultrafast", str(plain)], check=True)
    a, b = vectors(plain), vectors(out)
    n = min(len(a), len(b))
    assert np.median(np.sum(a[:n] * b[:n], axis=1)) > 0.95


def test_a_flat_background_at_one_edge_is_picture():
    # Bars come in pairs of one tone; one flat band, light or dark, on one side is part of the picture
    # unless it is dark (a dark band on one side is cut, as a partial letterbox always was).
    grey = np.tile(np.linspace(0, 255, 200), (100, 1)).astype(np.float32)
    grey[:30] = 200.0
    assert content_box(grey) == (0, 100, 0, 200)
    grey[-30:] = 200.0  # now a pair: light bars top and bottom
    assert content_box(grey) == (30, 70, 0, 200)


def test_a_window_of_a_prepared_frame_describes_as_the_window_of_the_frame():
    from vidsearch.crops import side_images
    from vidsearch.embedders.descriptors import DCT
    from vidsearch.media.insets import find_boxes

    rng = np.random.default_rng(3)
    frames = [np.repeat(np.repeat(rng.integers(0, 255, (27, 48, 3), dtype=np.uint8), 8, 0), 8, 1) for _ in range(3)]
    grey = DCT.prepare(frames[0])
    assert grey.ndim == 2 and grey.dtype == np.float32
    windows = [frames[0], *inset_images(frames[0]), *side_images(frames[0])]
    prepared = [grey, *inset_images(grey), *side_images(grey)]
    assert np.array_equal(DCT.describe(prepared), DCT.describe(windows))
    boxes = find_boxes(frames)  # the blocks' edges make some
    assert boxes and find_boxes([DCT.prepare(f) for f in frames]) == boxes


def test_fills_are_looked_for_in_tall_frames_not_in_the_halves_of_wide_ones():
    # A detailed picture between smooth bands (a blurred fill) is cut out of a 4:5 frame; in an
    # 8:9 window, the half of a 16:9 frame where two videos sit side by side, the bands are picture.
    rng = np.random.default_rng(0)

    def framed(h: int, w: int, band: int) -> np.ndarray:
        grey = np.tile(np.linspace(60, 160, w, dtype=np.float32), (h, 1))
        grey[band : h - band] = rng.integers(0, 255, (h - 2 * band, w))
        return grey

    assert content_box(framed(240, 192, 50)) == (50, 190, 0, 192)
    assert content_box(framed(216, 192, 50)) == (0, 216, 0, 192)
