"""Vertical re-posts cut out of landscape videos: found as windows of the source, from the copy
vectors already indexed, at the right place in time and across the width."""

import subprocess

import numpy as np
import pytest

from tests.conftest import copy_library, register_videos
from vidsearch.clips import clip_vectors
from vidsearch.crops import windows_for
from vidsearch.embedders.copy import copy_descriptor
from vidsearch.media.frames import iter_frames
from vidsearch.media.probe import probe
from vidsearch.matching import match_clip

SOURCE = "toy_crystal_tabletop.mp4"  # 12 s at 3:2: hands moving a crystal on a table
LIBRARY = ["tears_of_steel_battle_clip.webm", "bbb_opening_480p_30s.mp4", "chaplin_street_scene.mp4",
           "man_talking_greenscreen.mp4", "people_walking_one_by_one.mp4", "toy_crystal_tabletop.mp4"]


@pytest.fixture(scope="module")
def indexed(shared_videos):
    return copy_library(shared_videos, LIBRARY)


@pytest.fixture
def library(store, indexed):
    index, paths = indexed
    register_videos(store, paths)
    return index


def test_a_window_of_a_frame_is_a_linear_map_of_its_vector(shared_videos):
    # The map is exact up to what the whole frame's lowest frequencies cannot know.
    path = str(shared_videos / "chaplin_street_scene.mp4")
    frame = next(iter_frames(path, probe(path))).image
    h, w = frame.shape[:2]
    width = int(h * 9 / 16)
    windows = windows_for(width / h)[min(windows_for(width / h), key=lambda a: abs(a - w / h))]
    window = windows[3]  # the middle one
    x = round(window.x0 * w)
    cut = copy_descriptor(np.ascontiguousarray(frame[:, x : x + width]))
    mapped = window.source(copy_descriptor(frame)[None])[0]
    assert float(window.clip(cut[None])[0] @ mapped) > 0.9


@pytest.mark.parametrize(("shape", "at"), [("9:16", 0.1), ("9:16", 0.9), ("1:1", 0.5), ("4:5", 0.0)])
def test_vertical_crop_found_where_it_was_cut(shared_videos, tmp_path, store, library, shape, at):
    a, b = (int(n) for n in shape.split(":"))
    out = tmp_path / "vertical.mp4"
    crop = f"crop=trunc(ih*{a}/{b}/2)*2:ih:(iw-ow)*{at}:0"
    subprocess.run(["ffmpeg", "-v", "error", "-ss", "3", "-t", "20", "-i", str(shared_videos / SOURCE),
                    "-vf", crop, "-an", "-c:v", "libx264", "-preset", "ultrafast", "-crf", "28", str(out)],
                   check=True)
    clip = clip_vectors(str(out))
    assert clip.aspect < 1.01
    found = match_clip(store, library, clip)
    assert found and found[0].path.endswith(SOURCE), found
    best = found[0]
    assert abs(best.source_start_s - (3.0 + best.query_start_s)) <= 1.0, best
    assert best.crop is not None and abs(best.crop.x - at * (1 - best.crop.width)) <= 0.2, best


def test_a_vertical_clip_of_nothing_indexed_matches_nothing(shared_videos, tmp_path, store, library):
    out = tmp_path / "other.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-t", "20", "-i", str(shared_videos / "tractor_field_vp9.webm"),
                    "-vf", "crop=trunc(ih*9/16/2)*2:ih", "-an", "-c:v", "libx264", "-preset", "ultrafast",
                    str(out)], check=True)
    clip = clip_vectors(str(out))
    assert match_clip(store, library, clip) == []


@pytest.mark.parametrize("crop", ["crop=iw*0.75:ih:iw*0.25:0", "crop=iw*0.85:ih*0.85:0:ih*0.15",
                                  "crop=iw*0.92:ih*0.8:0:ih*0.2"])
def test_landscape_crop_found_as_a_window(shared_videos, tmp_path, store, library, crop):
    out = tmp_path / "cropped.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-ss", "3", "-t", "20", "-i", str(shared_videos / SOURCE),
                    "-vf", f"{crop},scale=trunc(iw/2)*2:trunc(ih/2)*2", "-an", "-c:v", "libx264",
                    "-preset", "ultrafast", "-crf", "28", str(out)], check=True)
    clip = clip_vectors(str(out))
    found = match_clip(store, library, clip)
    assert found and found[0].path.endswith(SOURCE), found
    assert abs(found[0].source_start_s - (3.0 + found[0].query_start_s)) <= 1.0, found[0]
    assert found[0].query_end_s - found[0].query_start_s >= 0.8 * clip.metadata.duration_s, found[0]
    assert found[0].crop is not None


@pytest.mark.parametrize("cover", ["drawbox=x=0:y=ih*0.8:w=iw:h=ih*0.2:color=white:t=fill",
                                   "drawbox=x=iw*0.78:y=0:w=iw*0.22:h=ih*0.3:color=0xE03070:t=fill"])
def test_clip_with_an_overlay_on_one_side_found(shared_videos, tmp_path, store, library, cover):
    # A caption bar along the bottom (found only through the picture less its bottom fifth), a
    # sticker in the top right corner.
    out = tmp_path / "covered.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-ss", "3", "-t", "20", "-i", str(shared_videos / SOURCE),
                    "-vf", cover, "-an", "-c:v", "libx264", "-preset", "ultrafast", "-crf", "28", str(out)],
                   check=True)
    found = match_clip(store, library, clip_vectors(str(out)))
    assert found and found[0].path.endswith(SOURCE), found
    assert abs(found[0].source_start_s - (3.0 + found[0].query_start_s)) <= 1.0, found[0]


def over_other_footage(videos, source, seconds, graph, out):
    """`seconds` of `source` from 3 s, composed by the filter `graph` ([0:v] the source, [1:v]
    unindexed footage looped under it) into `out`."""
    subprocess.run(["ffmpeg", "-v", "error", "-ss", "3", "-t", str(seconds), "-i", str(videos / source),
                    "-stream_loop", "-1", "-i", str(videos / "tractor_field_vp9.webm"), "-filter_complex", graph,
                    "-t", str(seconds), "-an", "-c:v", "libx264", "-preset", "ultrafast", "-crf", "28", str(out)],
                   check=True)


def test_reaction_face_over_a_third_of_a_corner_found_beside_it(shared_videos, tmp_path, store, library):
    # Unindexed footage at 38 % of the width in the top right reaches past a side's fifth: the
    # match is made through the picture less its right two fifths, and says so.
    source = "tears_of_steel_battle_clip.webm"
    out = tmp_path / "face.mp4"
    width = 2 * round(0.38 * probe(str(shared_videos / source)).width / 2)
    over_other_footage(shared_videos, source, 12, f"[1:v]scale={width}:-2[face];[0:v][face]overlay=W-w-16:16", out)
    found = match_clip(store, library, clip_vectors(str(out)))
    assert found and found[0].path.endswith(source), found
    assert abs(found[0].source_start_s - (3.0 + found[0].query_start_s)) <= 1.0, found[0]
    assert found[0].crop is not None and (found[0].crop.x, found[0].crop.width) == (0.0, 0.6), found[0]


def test_mirrored_and_cropped_clip_found(shared_videos, tmp_path, store, library):
    out = tmp_path / "mirrored.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-ss", "3", "-t", "20", "-i", str(shared_videos / SOURCE),
                    "-vf", "hflip,crop=iw*0.75:ih:0:0,scale=trunc(iw/2)*2:trunc(ih/2)*2,fps=10", "-an",
                    "-c:v", "libx264", "-preset", "ultrafast", "-crf", "32", str(out)], check=True)
    found = match_clip(store, library, clip_vectors(str(out)))
    assert found and found[0].path.endswith(SOURCE) and found[0].flipped, found
    assert abs(found[0].source_start_s - (3.0 + found[0].query_start_s)) <= 1.0, found[0]


def test_picture_in_picture_over_other_footage_found_in_its_corner(shared_videos, tmp_path, store, library):
    out = tmp_path / "pip.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-stream_loop", "-1", "-i", str(shared_videos / "tractor_field_vp9.webm"),
                    "-ss", "3", "-t", "9", "-i", str(shared_videos / SOURCE), "-filter_complex",
                    "[0:v]scale=1280:720,setsar=1[bg];[1:v]scale=640:-2[fg];[bg][fg]overlay=W-w-16:16:shortest=1",
                    "-t", "9", "-an", "-c:v", "libx264", "-preset", "ultrafast", str(out)], check=True)
    found = match_clip(store, library, clip_vectors(str(out)))
    assert found and found[0].path.endswith(SOURCE) and found[0].inset == "top_right", found


@pytest.mark.parametrize("stack", ["hstack", "vstack"])
def test_side_by_side_or_stacked_with_other_footage_found(shared_videos, tmp_path, store, library, stack):
    out = tmp_path / "stacked.mp4"
    over_other_footage(shared_videos, SOURCE, 9,
                       f"[0:v]scale=640:360,setsar=1,fps=25[a];[1:v]scale=640:360,setsar=1,fps=25[b];[b][a]{stack}=2", out)
    found = match_clip(store, library, clip_vectors(str(out)))
    assert found and found[0].path.endswith(SOURCE), found
    assert found[0].inset == ("right" if stack == "hstack" else "bottom"), found[0]
