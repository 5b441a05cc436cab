"""Audio verification of a visual match, against a real store: the clip's audio must be found where
the picture put it, at the source's tempo when the clip plays at another speed, and never when the
audio is someone else's."""

import subprocess

import pytest

from vidsearch.fingerprints import fingerprint_audio
from vidsearch.matching import verify_audio
from vidsearch.results import Match
from vidsearch.store import ids
from vidsearch.store.records import VideoRecord

SOURCE = "bbb_opening_480p_30s.mp4"


@pytest.fixture
def source_in_store(store, shared_videos):
    path = shared_videos / SOURCE
    fp = fingerprint_audio(str(path))
    record = VideoRecord(
        video_id=ids.video_id("bbb"), path=str(path), checksum="bbb", size_bytes=1, status="complete",
        audio=fp.status, fingerprint=fp.encoded(),
    )
    store.put_video(record)
    return record


def clip(tmp_path, shared_videos, speed: float, audio_from: str = SOURCE):
    out = tmp_path / f"clip-{speed}-{audio_from}.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-ss", "6", "-t", "14", "-i", str(shared_videos / SOURCE),
         "-ss", "6", "-t", "14", "-i", str(shared_videos / audio_from), "-filter_complex",
         f"[0:v]setpts=PTS/{speed}[v];[1:a]atempo={speed}[a]", "-map", "[v]", "-map", "[a]",
         "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", str(out)],
        check=True,
    )
    return out


def match(record, speed: float, query_start_s: float = 0.0) -> Match:
    # What the picture said: the clip from query_start_s on plays the source from 6 s + speed * that.
    start = 6.0 + speed * query_start_s
    return Match(video_id=record.video_id, path=record.path, score=0.9, source_start_s=start,
                 source_end_s=start + 10 * speed, query_start_s=query_start_s, query_end_s=query_start_s + 10,
                 speed=speed, visual_score=0.9, flipped=False)


@pytest.mark.parametrize("speed", [0.8, 1.0, 1.25])
def test_audio_verified_at_any_speed(store, source_in_store, tmp_path, shared_videos, speed):
    path = clip(tmp_path, shared_videos, speed)
    [m] = verify_audio(store, fingerprint_audio(str(path)), [match(source_in_store, speed, 2.0)],
                       clip_path=str(path))
    assert m.audio.verified and m.evidence == "both", m
    assert m.audio.offset_s == pytest.approx(6.0, abs=0.5)


def test_sped_audio_needs_the_clip_to_be_put_back(store, source_in_store, tmp_path, shared_videos):
    path = clip(tmp_path, shared_videos, 1.25)
    [m] = verify_audio(store, fingerprint_audio(str(path)), [match(source_in_store, 1.25)])  # no clip_path
    assert not m.audio.verified and m.evidence == "visual"


def test_someone_elses_audio_is_never_verified(store, source_in_store, tmp_path, shared_videos):
    path = clip(tmp_path, shared_videos, 1.25, audio_from="chaplin_street_scene.mp4")
    [m] = verify_audio(store, fingerprint_audio(str(path)), [match(source_in_store, 1.25)], clip_path=str(path))
    assert not m.audio.verified and m.evidence == "visual"
