import subprocess

import numpy as np
import pytest

from vidsearch.fingerprints import ITEM_SECONDS, decode_items, fingerprint_audio


def test_whole_length_not_just_two_minutes(tmp_path):
    # fpcalc stops at 120 s unless told otherwise; a long soundtrack must be covered to its end.
    audio = tmp_path / "long.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "anoisesrc=d=150:c=pink:seed=3", "-f", "lavfi",
         "-i", "color=size=64x64:rate=1", "-t", "150", "-c:a", "aac", "-c:v", "libx264", "-shortest", str(audio)],
        check=True,
    )
    fp = fingerprint_audio(str(audio))
    assert fp.status == "fingerprinted"
    assert len(fp.items) * ITEM_SECONDS > 140
    assert np.array_equal(decode_items(fp.encoded()), fp.items)


def test_no_audio_and_silence(tmp_path, video_factory):
    assert fingerprint_audio(str(video_factory("mute.mp4", seconds=2, audio=False)), has_audio=False).status == "none"
    assert fingerprint_audio(str(video_factory("mute.mp4", seconds=2, audio=False))).status == "none"
    silent = tmp_path / "silent.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "anullsrc=r=44100:cl=stereo", "-f", "lavfi", "-i",
         "color=size=64x64:rate=5", "-t", "8", "-c:a", "aac", "-c:v", "libx264", str(silent)],
        check=True,
    )
    assert fingerprint_audio(str(silent)).status == "silent"


def test_real_music_and_speech(shared_videos):
    for name in ("bbb_opening_480p_30s.mp4", "man_talking_greenscreen.mp4"):
        fp = fingerprint_audio(str(shared_videos / name))
        assert fp.status == "fingerprinted" and len(fp.items) > 100
    assert fingerprint_audio(str(shared_videos / "bear_vp9_opus.webm")).status == "too_short"


def test_same_audio_different_encodes_agree(shared_videos):
    a = fingerprint_audio(str(shared_videos / "bbb_opening_480p_30s.mp4")).items
    b = fingerprint_audio(str(shared_videos / "bbb_opening_720p_30s.webm")).items
    n = min(len(a), len(b))
    ber = np.unpackbits((a[:n] ^ b[:n]).view(np.uint8)).mean()
    assert ber < 0.25


@pytest.mark.parametrize("speed", [0.8, 1.25])
@pytest.mark.parametrize("keep_pitch", [True, False])
def test_sped_audio_is_found_once_put_back_to_its_tempo(shared_videos, tmp_path, speed, keep_pitch):
    # An editor's speed change keeps the pitch (atempo); a tape played faster does not (asetrate).
    from vidsearch.fingerprints import locate

    source = shared_videos / "bbb_opening_480p_30s.mp4"
    audio = f"atempo={speed}" if keep_pitch else f"asetrate={48000 * speed},aresample=48000"
    clip = tmp_path / "sped.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-ss", "6", "-t", "16", "-i", str(source), "-filter_complex",
         f"[0:v]setpts=PTS/{speed}[v];[0:a]{audio}[a]", "-map", "[v]", "-map", "[a]",
         "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", str(clip)],
        check=True,
    )
    items = fingerprint_audio(str(source)).items
    as_played = locate(fingerprint_audio(str(clip)).items, items)
    assert as_played is None or abs(as_played.offset_s - 6.0) > 1.0  # Chromaprint is not tempo-invariant
    retimed = locate(fingerprint_audio(str(clip), speed=speed, keep_pitch=keep_pitch).items, items)
    assert retimed is not None and abs(retimed.offset_s - 6.0) <= 0.5
