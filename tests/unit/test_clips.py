"""Reading an uploaded clip: refusals of what is not a clip, vectors at the asked rate, and its audio."""

from __future__ import annotations

import os

import numpy as np
import pytest

from vidsearch.clips import clip_file, clip_fingerprint, clip_vectors
from vidsearch.embedders.copy import DIM, INSET_WINDOWS
from vidsearch.media.probe import MediaError


def test_uploads_that_are_no_video_are_refused_and_leave_nothing():
    with pytest.raises(MediaError, match="empty"):
        with clip_file(b""):
            pass
    with pytest.raises(MediaError, match="not a video"):
        with clip_file(b"%PDF-1.7 this is a document, not a film" * 20):
            pass


def test_the_temporary_file_goes_with_the_request(video_factory):
    data = video_factory("clip-upload.mp4", seconds=2).read_bytes()
    with clip_file(data, suffix=".mp4") as path:
        assert os.path.getsize(path) == len(data)
    assert not os.path.exists(path)


@pytest.mark.parametrize("fps", [1.0, 2.0])
def test_vectors_follow_the_sampling_rate(video_factory, fps):
    clip = clip_vectors(str(video_factory("clip-rate.mp4", seconds=6, source="mandelbrot")), fps=fps)
    m = len(clip.seconds)
    assert m == pytest.approx(6 * fps, abs=1) and clip.fps == fps
    assert np.all(np.diff(clip.seconds) > 0) and clip.seconds[1] - clip.seconds[0] == pytest.approx(1 / fps, abs=0.05)
    assert clip.copy.shape == (m, DIM) and clip.insets.shape == (len(INSET_WINDOWS), m, DIM)
    assert clip.sides.shape[1:] == (m, DIM) and clip.aspect == pytest.approx(320 / 240)


def test_long_clips_are_refused_before_decoding(video_factory):
    with pytest.raises(MediaError, match="at most 3 s are matched"):
        clip_vectors(str(video_factory("clip-long.mp4", seconds=6)), max_seconds=3)


def test_a_clip_without_sound_has_no_fingerprint(video_factory):
    silent = video_factory("clip-silent.mp4", seconds=4, audio=False)
    assert clip_fingerprint(str(silent)).status != "fingerprinted"
    assert clip_fingerprint(str(video_factory("clip-tone.mp4", seconds=12))).status == "fingerprinted"
