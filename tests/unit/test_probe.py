import subprocess

import pytest

from tests.conftest import rotate_video

from vidsearch.media.probe import MediaError, VideoMetadata, probe, probe_in_process


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


def what_matching_reads(meta: VideoMetadata) -> tuple:
    tracks = [(t.index, t.codec, t.channels, t.sample_rate, t.language) for t in meta.audio_tracks]
    return (meta.container, meta.width, meta.height, meta.coded_width, meta.coded_height, meta.rotation,
            meta.video_codec, meta.pixel_format, tracks, [t.codec for t in meta.subtitle_tracks])


def test_an_upload_probed_in_process_reads_as_ffprobe_reads_it(tmp_path, video_factory):
    plain = video_factory("p.mp4", seconds=4, size=(320, 240), fps=25)
    rotated = rotate_video(video_factory("landscape.mp4", seconds=2, size=(320, 180), audio=False), tmp_path / "r.mp4")
    webm = video_factory("v.webm", seconds=2, audio=True, codec=["-c:v", "libvpx-vp9", "-deadline", "realtime", "-b:v", "200k"])
    for path in map(str, (plain, rotated, webm)):
        ours, theirs = probe_in_process(path), probe(path)
        assert what_matching_reads(ours) == what_matching_reads(theirs), path
        assert ours.duration_s == pytest.approx(theirs.duration_s, abs=0.05) and ours.fps == theirs.fps
    assert probe_in_process(str(rotated)).rotation in (90, 270)


def test_real_videos_probed_in_process_read_as_ffprobe_reads_them(shared_videos):
    for path in sorted(map(str, shared_videos.iterdir())):
        ours, theirs = probe_in_process(path), probe(path)
        assert what_matching_reads(ours) == what_matching_reads(theirs), path
        assert ours.duration_s == pytest.approx(theirs.duration_s, abs=0.05), path


def test_what_pyav_cannot_read_is_explained_by_ffprobe(tmp_path, video_factory):
    text, cut, audio = tmp_path / "text.mp4", tmp_path / "cut.mp4", tmp_path / "a.m4a"
    text.write_bytes(b"just some text\n" * 100)
    whole = video_factory("whole.mp4", seconds=3)
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])  # its index (moov) is at the end
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine", "-t", "1", str(audio)], check=True)
    for path, reason in ((text, "not a readable video"), (cut, "moov atom"), (audio, "no video stream")):
        with pytest.raises(MediaError, match=reason):
            probe_in_process(str(path))
