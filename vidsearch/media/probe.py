"""Technical metadata of a video file, read with ffprobe."""

from __future__ import annotations

import json
import re
import subprocess
from fractions import Fraction

from pydantic import BaseModel


class MediaError(Exception):
    """A file cannot be read as a video; the message is the reason shown to users."""


class AudioTrack(BaseModel):
    index: int
    codec: str | None
    channels: int | None = None
    sample_rate: int | None = None
    language: str | None = None


class SubtitleTrack(BaseModel):
    index: int
    codec: str | None
    language: str | None = None


class VideoMetadata(BaseModel):
    container: str
    duration_s: float
    width: int  # as displayed, after rotation
    height: int
    coded_width: int
    coded_height: int
    rotation: int = 0  # degrees clockwise to display upright: 0, 90, 180, 270
    fps: float
    variable_frame_rate: bool
    frame_count: int | None = None
    video_codec: str
    pixel_format: str | None = None
    bit_rate: int | None = None
    color_space: str | None = None
    color_transfer: str | None = None
    color_primaries: str | None = None
    hdr: bool = False
    audio_tracks: list[AudioTrack] = []
    subtitle_tracks: list[SubtitleTrack] = []
    creation_time: str | None = None

    @property
    def audio_codec(self) -> str | None:
        return self.audio_tracks[0].codec if self.audio_tracks else None


_HDR_TRANSFERS = {"smpte2084", "arib-std-b67"}


def probe(path: str, timeout_s: float = 60.0) -> VideoMetadata:
    """Probe `path`; raise MediaError with a readable reason when it is not a usable video."""
    cmd = ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams", path]
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        raise MediaError(f"ffprobe did not finish within {timeout_s:.0f} s") from None
    except FileNotFoundError:
        raise MediaError("ffprobe is not installed (install ffmpeg)") from None
    if done.returncode != 0:
        raise MediaError(f"not a readable video: {_ffmpeg_reason(done.stderr.decode(errors='replace'), path)}")
    return parse_probe(json.loads(done.stdout or b"{}"))


def parse_probe(info: dict) -> VideoMetadata:
    streams = info.get("streams", [])
    fmt = info.get("format", {})
    video = next(
        (
            s
            for s in streams
            if s.get("codec_type") == "video"
            and not s.get("disposition", {}).get("attached_pic")
            and s.get("width")
        ),
        None,
    )
    if video is None:
        raise MediaError("no video stream (audio-only or not a video file)")
    duration = _float(video.get("duration")) or _float(fmt.get("duration"))
    if not duration or duration <= 0:
        raise MediaError("video has no duration (empty or truncated file)")
    avg, real = _rate(video.get("avg_frame_rate")), _rate(video.get("r_frame_rate"))
    fps = avg or real
    if not fps:
        raise MediaError("video stream has no frame rate")
    rotation = _rotation(video)
    coded_w, coded_h = int(video["width"]), int(video["height"])
    w, h = (coded_h, coded_w) if rotation in (90, 270) else (coded_w, coded_h)
    tags = fmt.get("tags", {}) or {}
    transfer = video.get("color_transfer")
    return VideoMetadata(
        container=fmt.get("format_name", "unknown"),
        duration_s=round(duration, 3),
        width=w,
        height=h,
        coded_width=coded_w,
        coded_height=coded_h,
        rotation=rotation,
        fps=round(fps, 3),
        # avg and r differ when frame durations vary (phone footage, screen recordings). Matroska
        # headers carry no average, so there VFR goes unflagged; sampling uses timestamps anyway.
        variable_frame_rate=bool(avg and real and abs(avg - real) / real > 0.01),
        frame_count=_int(video.get("nb_frames")),
        video_codec=video.get("codec_name", "unknown"),
        pixel_format=video.get("pix_fmt"),
        bit_rate=_int(fmt.get("bit_rate")) or _int(video.get("bit_rate")),
        color_space=video.get("color_space"),
        color_transfer=transfer,
        color_primaries=video.get("color_primaries"),
        hdr=transfer in _HDR_TRANSFERS,
        audio_tracks=[
            AudioTrack(
                index=s["index"],
                codec=s.get("codec_name"),
                channels=s.get("channels"),
                sample_rate=_int(s.get("sample_rate")),
                language=(s.get("tags") or {}).get("language"),
            )
            for s in streams
            if s.get("codec_type") == "audio"
        ],
        subtitle_tracks=[
            SubtitleTrack(
                index=s["index"],
                codec=s.get("codec_name"),
                language=(s.get("tags") or {}).get("language"),
            )
            for s in streams
            if s.get("codec_type") == "subtitle"
        ],
        creation_time=tags.get("creation_time") or (video.get("tags") or {}).get("creation_time"),
    )


def _ffmpeg_reason(stderr: str, path: str) -> str:
    """ffmpeg's messages without the path and demuxer prefixes, each said once."""
    reasons = []
    for line in stderr.splitlines():
        line = re.sub(r"^\[[^\]]*@ 0x[0-9a-f]+\]\s*", "", line.strip()).replace(f"{path}: ", "")
        if line and line not in reasons:
            reasons.append(line)
    if any("moov atom not found" in r for r in reasons):
        return "incomplete MP4/MOV, its index (moov atom) is missing: the file was cut short or never finished"
    return "; ".join(reasons) or "ffprobe failed"


def _rotation(stream: dict) -> int:
    """Clockwise display rotation from the display matrix (newer ffmpeg) or the rotate tag."""
    for side in stream.get("side_data_list", []) or []:
        if "rotation" in side:
            # The display matrix angle is counter-clockwise.
            return int(-float(side["rotation"])) % 360
    rotate = (stream.get("tags") or {}).get("rotate")
    return int(rotate) % 360 if rotate else 0


def _rate(value: str | None) -> float | None:
    try:
        rate = Fraction(value) if value else None
    except (ValueError, ZeroDivisionError):
        return None
    return float(rate) if rate else None


def _float(value) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
