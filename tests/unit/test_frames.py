import subprocess

import numpy as np
import pytest

from tests.conftest import rotate_video

from vidsearch.media.frames import decoded_ahead, iter_frames, sample_times, scaled_size
from vidsearch.media.probe import MediaError, probe


def frames_of(path, **kwargs):
    return list(iter_frames(str(path), probe(str(path)), **kwargs))


def test_sample_times_and_sizes():
    assert list(sample_times(3.0, 1.0)) == [0, 1, 2]
    assert list(sample_times(3.2, 1.0)) == [0, 1, 2, 3]
    assert list(sample_times(2.0, 2.0)) == [0, 0.5, 1.0, 1.5]
    assert scaled_size(3840, 2160, 384) == (384, 216)
    assert scaled_size(100, 50, 384) == (100, 50)  # never upscales


@pytest.mark.parametrize("decoder", ["decord", "pyav"])
def test_one_frame_per_second_at_the_right_time(video_factory, decoder):
    path = video_factory("t10.mp4", seconds=10, fps=25, size=(640, 360))
    frames = frames_of(path, decoder=decoder, max_side=320)
    assert [f.index for f in frames] == list(range(10))
    assert [f.second for f in frames] == pytest.approx(list(range(10)), abs=0.05)
    assert frames[0].image.shape == (180, 320, 3) and frames[0].image.dtype == np.uint8


def test_decoders_agree(video_factory):
    path = video_factory("t10.mp4", seconds=10, fps=25, size=(640, 360))
    a = np.stack([f.image for f in frames_of(path, decoder="decord")]).astype(int)
    b = np.stack([f.image for f in frames_of(path, decoder="pyav")]).astype(int)
    assert a.shape == b.shape
    assert np.abs(a - b).mean() < 12  # same frames; scalers differ slightly


@pytest.mark.parametrize("decoder", ["decord", "pyav"])
def test_frames_are_upright(tmp_path, video_factory, decoder):
    src = video_factory("landscape.mp4", seconds=2, size=(320, 180), audio=False)
    rotated = tmp_path / "rotated.mp4"
    rotate_video(src, rotated)
    frames = frames_of(rotated, decoder=decoder)
    assert frames[0].image.shape == (320, 180, 3)
    # Compare with ffmpeg's own auto-rotation: same orientation, not a mirror or upside down.
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(rotated), "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        check=True, capture_output=True,
    ).stdout
    reference = np.frombuffer(raw, np.uint8).reshape(320, 180, 3).astype(int)
    assert np.abs(frames[0].image.astype(int) - reference).mean() < 10
    assert np.abs(np.rot90(frames[0].image, 2).astype(int) - reference).mean() > 30


def test_4k_frames_are_scaled_in_the_decoder(video_factory):
    path = video_factory("uhd.mp4", seconds=2, fps=10, size=(3840, 2160), audio=False)
    frames = frames_of(path, max_side=256, chunk=4)
    assert len(frames) == 2 and frames[0].image.shape == (144, 256, 3)


def test_truncated_video_is_reported(tmp_path, video_factory):
    # faststart puts the index first, so the file still probes after its tail is cut off.
    src = video_factory("fs.mp4", seconds=12, fps=25, size=(320, 240), extra=["-movflags", "+faststart"])
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(src.read_bytes()[: src.stat().st_size // 3])
    with pytest.raises(MediaError, match="truncated or corrupt"):
        frames_of(cut)


def test_frames_decoded_ahead_are_the_frames_in_order_and_errors_reach_the_caller(tmp_path, video_factory):
    path = video_factory("t10.mp4", seconds=10, fps=25, size=(640, 360))
    meta = probe(str(path))
    plain = list(iter_frames(str(path), meta, fps=4.0, decoder="pyav"))
    ahead = list(decoded_ahead(iter_frames(str(path), meta, fps=4.0, decoder="pyav"), depth=2))
    assert [(f.index, f.second) for f in ahead] == [(f.index, f.second) for f in plain]
    assert all(np.array_equal(a.image, b.image) for a, b in zip(ahead, plain))
    src = video_factory("fs.mp4", seconds=12, fps=25, size=(320, 240), extra=["-movflags", "+faststart"])
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(src.read_bytes()[: src.stat().st_size // 3])
    with pytest.raises(MediaError, match="truncated or corrupt"):
        list(decoded_ahead(iter_frames(str(cut), probe(str(cut)), decoder="pyav")))


def test_a_caller_that_stops_early_stops_the_decoding_thread(video_factory):
    import threading

    path = video_factory("t10.mp4", seconds=10, fps=25, size=(640, 360))
    closed = []

    def frames():
        try:
            yield from iter_frames(str(path), probe(str(path)), fps=4.0, decoder="pyav")
        finally:
            closed.append(True)

    ahead = decoded_ahead(frames(), depth=2)
    assert next(ahead).index == 0
    ahead.close()
    assert closed == [True]  # the decoder's generator was closed, and so its file
    assert not [t for t in threading.enumerate() if t.name == "decode-ahead"]


def test_decord_failure_falls_back_to_pyav(monkeypatch, video_factory):
    import vidsearch.media.frames as frames_module

    def broken(*args, **kwargs):
        yield from ()
        raise frames_module._DecordFailed("simulated")

    path = video_factory("t10.mp4", seconds=10, fps=25, size=(640, 360))
    monkeypatch.setattr(frames_module, "_decord_frames", broken)
    assert len(frames_of(path)) == 10


@pytest.mark.parametrize("decoder", ["decord", "pyav"])
def test_segments_join_into_the_whole(video_factory, decoder):
    path = video_factory("t10.mp4", seconds=10, fps=25, size=(640, 360))
    meta = probe(str(path))
    whole = list(iter_frames(str(path), meta, decoder=decoder))
    parts = [f for lo in (0, 4, 8) for f in iter_frames(str(path), meta, decoder=decoder, first=lo, end=lo + 4)]
    assert [f.index for f in parts] == [f.index for f in whole] == list(range(10))
    assert all(np.array_equal(a.image, b.image) for a, b in zip(parts, whole))


def test_overstated_duration_is_padded_not_failed(video_factory):
    path = video_factory("t10.mp4", seconds=10, fps=25, size=(640, 360))
    meta = probe(str(path)).model_copy(update={"duration_s": 11.5})  # the container claims more
    frames = list(iter_frames(str(path), meta))
    assert len(frames) == 12 and frames[-1].second == pytest.approx(frames[-2].second)


def test_variable_frame_rate(tmp_path):
    # 2 s at 25 fps, then 4 s at 5 fps: sample times must follow timestamps, not frame counts.
    vfr = tmp_path / "vfr.mp4"  # MP4 keeps per-frame durations in its index, so ffprobe can tell
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-frames:v", "70",
         "-vf", "setpts='if(lt(N,50),N/25,2+(N-50)/5)/TB'", "-fps_mode", "vfr", "-c:v", "libx264",
         "-preset", "ultrafast", str(vfr)],
        check=True,
    )
    meta = probe(str(vfr))
    assert meta.variable_frame_rate
    for decoder in ("decord", "pyav"):
        frames = list(iter_frames(str(vfr), meta, decoder=decoder))
        assert len(frames) == 6
        for f in frames:
            assert f.index - 0.2 <= f.second <= f.index + 1e-3, (decoder, f.index, f.second)
