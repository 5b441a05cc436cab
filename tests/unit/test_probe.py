import subprocess

import pytest

from tests.conftest import rotate_video

from vidsearch.media.probe import MediaError, probe


def test_probe_fields(video_factory):
    meta = probe(str(video_factory("p.mp4", seconds=4, size=(320, 240), fps=25)))
    assert meta.duration_s == pytest.approx(4, abs=0.1)
    assert (meta.width, meta.height, meta.rotation) == (320, 240, 0)
    assert meta.fps == 25 and not meta.variable_frame_rate
    assert meta.video_codec == "h264" and meta.audio_codec == "aac"
    assert meta.audio_tracks[0].channels == 1 and meta.bit_rate
    assert not meta.hdr


def test_probe_rotated_phone_video(tmp_path, video_factory):
    src = video_factory("landscape.mp4", seconds=2, size=(320, 180), audio=False)
    rotated = tmp_path / "rotated.mp4"
    rotate_video(src, rotated)
    meta = probe(str(rotated))
    assert meta.rotation in (90, 270)
    assert (meta.width, meta.height) == (180, 320)  # displayed upright, portrait
    assert (meta.coded_width, meta.coded_height) == (320, 180)


def test_probe_subtitles_and_vp9(tmp_path, video_factory):
    srt = tmp_path / "s.srt"
    srt.write_text("1\n00:00:00,000 --> 00:00:01,000\nhello\n")
    webm = video_factory("v.webm", seconds=2, audio=True, codec=["-c:v", "libvpx-vp9", "-deadline", "realtime", "-b:v", "200k"])
    out = tmp_path / "subs.mkv"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(webm), "-i", str(srt), "-c", "copy", "-c:s", "srt", str(out)], check=True)
    meta = probe(str(out))
    assert meta.video_codec == "vp9" and meta.audio_codec == "opus"
    assert [t.codec for t in meta.subtitle_tracks] == ["subrip"]


@pytest.mark.parametrize(
    "content, reason",
    [(b"", "not a readable video"), (b"just some text\n" * 100, "not a readable video")],
)
def test_probe_rejects_non_videos(tmp_path, content, reason):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(content)
    with pytest.raises(MediaError, match=reason):
        probe(str(bad))


def test_probe_audio_only(tmp_path):
    audio = tmp_path / "a.m4a"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine", "-t", "1", str(audio)], check=True)
    with pytest.raises(MediaError, match="no video stream"):
        probe(str(audio))
