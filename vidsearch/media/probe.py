"""Technical metadata of a video file, read with ffprobe, or in this process through PyAV."""

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


def probe_in_process(path: str) -> VideoMetadata:
    """What `probe` reads, read through PyAV in this process: an upload is decoded by PyAV here
    anyway, and ffprobe's process costs about 65 ms, a fifth of reading a short clip. The streams
    are put in ffprobe's form, which `parse_probe` judges as it judges ffprobe's; the display
    rotation is the first decoded frame's. A file PyAV cannot open or decode goes to `probe`,
    whose ffmpeg messages say best what is wrong with it."""
    import av

    try:
        with av.open(path) as container:
            info = {"format": _format_info(container), "streams": [_stream_info(s) for s in container.streams]}
            video = next((s for s in container.streams.video if s.codec_context.width), None)
            if video is not None:
                first = next(container.decode(video))
                info["streams"][video.index]["side_data_list"] = [{"rotation": first.rotation}]
    except Exception:  # whatever PyAV makes of an odd upload (no frame, a stream it reads oddly)
        return probe(path)
    return parse_probe(info)


def _format_info(container) -> dict:
    return {"format_name": container.format.name, "tags": dict(container.metadata),
            "duration": container.duration / 1_000_000 if container.duration else None,
            "bit_rate": container.bit_rate or None}


def _stream_info(stream) -> dict:
    """One stream as ffprobe's JSON has it: the fields parse_probe reads, less the colour ones
    (which matching a clip does not use)."""
    from av.stream import Disposition

    cc = stream.codec_context
    out = {"index": stream.index, "codec_type": stream.type, "codec_name": cc.codec.canonical_name if cc else None,
           "tags": dict(stream.metadata),
           "disposition": {"attached_pic": int(bool(stream.disposition & Disposition.attached_pic))},
           "duration": float(stream.duration * stream.time_base) if stream.duration else None,
           "bit_rate": (cc.bit_rate or None) if cc else None}
    if stream.type == "video":
        out |= {"width": cc.width, "height": cc.height, "pix_fmt": cc.format.name if cc.format else None,
                "avg_frame_rate": str(stream.average_rate or 0), "r_frame_rate": str(stream.base_rate or 0),
                "nb_frames": stream.frames or None}
    elif stream.type == "audio":
        out |= {"channels": cc.channels, "sample_rate": cc.sample_rate}
    return out


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
