"""Subtitles as timed segments: sidecar files beside a video (SubRip, WebVTT, ASS/SSA) and text
tracks inside it (mov_text, subrip, ass, webvtt), read where readable and reported where not."""

from __future__ import annotations

import hashlib
import logging
import re
import subprocess
from dataclasses import dataclass
from pathlib import PurePosixPath

import fsspec

from vidsearch.text.segments import TextSegment

log = logging.getLogger(__name__)

SIDECAR_SUFFIXES = (".srt", ".vtt", ".ass", ".ssa")
TEXT_CODECS = {"mov_text", "subrip", "srt", "ass", "ssa", "webvtt", "text"}
MAX_BYTES = 20 * 2**20  # a subtitle file larger than this is not one
_TIME = r"(?:(\d+):)?(\d{1,2}):(\d{2})[,.](\d{1,3})"
_CUE_TIMES = re.compile(rf"{_TIME}\s*-->\s*{_TIME}")
_TAGS = re.compile(r"<[^>]*>|\{[^}]*\}")
_SPACE = re.compile(r"\s+")


class SubtitleError(ValueError):
    """A subtitle source that yields no readable cue; the message says why."""


@dataclass(frozen=True)
class SubtitleSource:
    """Where a video's subtitles come from: a sidecar file or a track of the video."""

    origin: str  # "file:<path>" or "track:<stream index>"
    lang: str  # a language tag, "und" when nothing says
    path: str
    track: int | None = None

    @property
    def source(self) -> str:
        return f"subtitle:{self.lang}"


def sidecars(video_path: str) -> list[SubtitleSource]:
    """`name.srt`, `name.en.vtt`, `name.fr.ass`... beside `video_path`."""
    fs, base = fsspec.core.url_to_fs(video_path)
    folder = str(PurePosixPath(base).parent)
    stem = PurePosixPath(base).stem
    prefix = video_path[: len(video_path) - len(base)]  # the URI scheme, if any, to give back
    try:
        names = fs.ls(folder, detail=False)
    except OSError:
        return []
    found = []
    for name in sorted(names):
        leaf = PurePosixPath(name).name
        suffix = PurePosixPath(leaf).suffix.lower()
        if suffix not in SIDECAR_SUFFIXES or not leaf.startswith(stem + "."):
            continue
        middle = leaf[len(stem) + 1 : -len(suffix)]  # "" or "en" or "en.forced"
        lang = middle.split(".")[0].lower() if middle else "und"
        if not re.fullmatch(r"[a-z]{2,3}(-[a-z0-9]+)?", lang):
            continue  # "name.notes.srt" belongs to another video named "name.notes"
        found.append(SubtitleSource(f"file:{prefix}{name}", lang, f"{prefix}{name}"))
    return found


def tracks(video_path: str, subtitle_tracks) -> list[SubtitleSource]:
    """The video's own subtitle tracks (from its probe), text or not: bitmap ones are reported."""
    return [
        SubtitleSource(f"track:{t.index}", _lang(t.language), video_path, track=t.index)
        for t in subtitle_tracks
    ]


def signature(src: SubtitleSource) -> str:
    """What changes when the source's text does: a sidecar's bytes; a track is fixed by the video."""
    if src.track is not None:
        return src.origin
    with fsspec.open(src.path, "rb") as f:
        return hashlib.sha256(f.read(MAX_BYTES + 1)).hexdigest()[:32]


def read_source(src: SubtitleSource, codec: str | None = None, local_path: str | None = None) -> list[TextSegment]:
    """The cues of `src`, sorted by start. A track is converted to SubRip by ffmpeg first."""
    if src.track is None:
        with fsspec.open(src.path, "rb") as f:
            data = f.read(MAX_BYTES + 1)
        if len(data) > MAX_BYTES:
            raise SubtitleError(f"{src.path}: larger than {MAX_BYTES // 2**20} MB, not a subtitle file")
        return parse(data, name=src.path)
    if codec and codec not in TEXT_CODECS:
        raise SubtitleError(f"subtitle track {src.track} is {codec}, pictures rather than text: not searchable")
    cmd = ["ffmpeg", "-v", "error", "-nostdin", "-i", local_path or src.path, "-map", f"0:{src.track}", "-f", "srt", "pipe:1"]
    done = subprocess.run(cmd, capture_output=True, timeout=300)
    if done.returncode != 0:
        reason = done.stderr.decode(errors="replace").strip().splitlines()
        raise SubtitleError(f"subtitle track {src.track}: {reason[-1] if reason else 'ffmpeg failed'}")
    return parse(done.stdout, name=f"subtitle track {src.track}")


def parse(data: bytes, name: str = "subtitles") -> list[TextSegment]:
    """SubRip, WebVTT or ASS/SSA in any common encoding. Malformed cues are skipped; a file with
    none readable raises SubtitleError."""
    text = decode(data).replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise SubtitleError(f"{name}: empty")
    if "[events]" in text.lower() or re.search(r"^Dialogue:", text, re.M):
        cues = _parse_ass(text)
    else:
        cues = _parse_timed_blocks(text)
    cues = _tidy(cues)
    if not cues:
        raise SubtitleError(f"{name}: no readable cue (not SubRip, WebVTT or ASS, or every cue is malformed)")
    return cues


def decode(data: bytes) -> str:
    """Bytes to text: a byte-order mark decides, else UTF-8, else Windows-1252/Latin-1 (what
    older subtitle files are mostly written in)."""
    for bom, codec in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if data.startswith(bom):
            return data.decode(codec, errors="replace")
    if len(data) >= 4:  # UTF-16 without its mark: every other byte of Latin text is zero
        if data[1::2].count(0) > len(data) // 4:
            return data.decode("utf-16-le", errors="replace")
        if data[0::2].count(0) > len(data) // 4:
            return data.decode("utf-16-be", errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        try:
            return data.decode("cp1252")
        except UnicodeDecodeError:
            return data.decode("latin-1")


def _seconds(h, m, s, frac) -> float:
    return int(h or 0) * 3600 + int(m) * 60 + int(s) + int(frac.ljust(3, "0")[:3]) / 1000


def _clean(text: str) -> str:
    text = _TAGS.sub("", text.replace("\\N", " ").replace("\\n", " ").replace("\\h", " "))
    return _SPACE.sub(" ", text).strip()


def _parse_timed_blocks(text: str) -> list[TextSegment]:
    """SubRip and WebVTT: a timing line, then the cue's lines up to a blank one."""
    cues = []
    for block in re.split(r"\n\s*\n", text):
        lines = block.strip("\n").split("\n")
        for i, line in enumerate(lines):
            times = _CUE_TIMES.search(line)
            if times:
                g = times.groups()
                start, end = _seconds(*g[:4]), _seconds(*g[4:])
                cues.append(TextSegment(start, end, _clean(" ".join(lines[i + 1 :]))))
                break
    return cues


def _parse_ass(text: str) -> list[TextSegment]:
    fields = ["layer", "start", "end", "style", "name", "marginl", "marginr", "marginv", "effect", "text"]
    cues = []
    for line in text.split("\n"):
        key, _, rest = line.partition(":")
        key = key.strip().lower()
        if key == "format" and "text" in rest.lower():
            fields = [f.strip().lower() for f in rest.split(",")]
        elif key == "dialogue":
            values = [v.strip() for v in rest.split(",", len(fields) - 1)]
            if len(values) != len(fields):
                continue
            row = dict(zip(fields, values))
            start, end = (re.fullmatch(r"(\d+):(\d{1,2}):(\d{2})[.,](\d{1,3})", row.get(k, "")) for k in ("start", "end"))
            if start and end:
                cues.append(TextSegment(_seconds(*start.groups()), _seconds(*end.groups()), _clean(row.get("text", ""))))
    return cues


def _tidy(cues: list[TextSegment]) -> list[TextSegment]:
    """Sorted by start, without empty or backwards cues, and without the same line repeated over
    overlapping times (karaoke and roll-up styles repeat a line as it grows)."""
    kept: list[TextSegment] = []
    for cue in sorted(cues, key=lambda c: (c.start, c.end)):
        if not cue.text or cue.end <= cue.start:
            continue
        if kept and kept[-1].text == cue.text and cue.start <= kept[-1].end:
            kept[-1] = TextSegment(kept[-1].start, max(kept[-1].end, cue.end), cue.text)
            continue
        kept.append(cue)
    return kept


_ISO_639_2 = {
    "eng": "en", "fre": "fr", "fra": "fr", "ger": "de", "deu": "de", "spa": "es", "ita": "it", "por": "pt",
    "dut": "nl", "nld": "nl", "rus": "ru", "jpn": "ja", "chi": "zh", "zho": "zh", "kor": "ko", "ara": "ar",
    "swe": "sv", "nor": "no", "dan": "da", "fin": "fi", "pol": "pl", "tur": "tr", "hin": "hi",
}


def _lang(tag: str | None) -> str:
    """A track's language tag in the two-letter form sidecar names use; "und" when none."""
    tag = (tag or "und").lower()
    return _ISO_639_2.get(tag, tag)
