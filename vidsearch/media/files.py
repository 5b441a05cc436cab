"""Finding video files by content, checksumming them and staging remote ones locally."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import fsspec

VIDEO_EXTENSIONS = frozenset(
    ".mp4 .m4v .mov .mkv .webm .avi .wmv .asf .flv .mpg .mpeg .ts .mts .m2ts .3gp .3g2 .ogv .mxf"
    " .vob .f4v .divx".split()
)
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Candidate:
    """A file that is a video by content, or claims to be one by its name."""

    path: str  # local absolute path or a URI
    size_bytes: int


def sniff_container(head: bytes) -> str | None:
    """Name the container the first bytes of a file announce, or None if none matches."""
    if len(head) >= 12 and head[4:8] in (b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip"):
        return "mp4/mov"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "matroska/webm"
    if head.startswith(b"RIFF") and head[8:12] in (b"AVI ", b"AVIX"):
        return "avi"
    if head.startswith(b"FLV"):
        return "flv"
    if head.startswith(b"\x30\x26\xb2\x75\x8e\x66\xcf\x11"):
        return "asf/wmv"
    if head.startswith(b"OggS"):
        return "ogg"
    if head.startswith(b"\x00\x00\x01\xba") or head.startswith(b"\x00\x00\x01\xb3"):
        return "mpeg-ps"
    if len(head) > 376 and head[0] == 0x47 and head[188] == 0x47 and head[376] == 0x47:
        return "mpeg-ts"
    if head.startswith(b"\x06\x0e\x2b\x34"):
        return "mxf"
    return None


def is_remote(path: str) -> bool:
    return "://" in path and not path.startswith("file://")


def discover(paths: Iterable[str]) -> Iterator[Candidate]:
    """Yield candidate videos under `paths` (files or folders, recursive; local or fsspec URIs).

    A file is a candidate when its content looks like a video container, or when its name says it
    is a video: the latter are kept so that a broken file is reported rather than silently ignored.
    """
    seen: set[str] = set()
    for root in paths:
        fs, base = fsspec.core.url_to_fs(root)
        if not fs.exists(base):
            raise FileNotFoundError(f"no such file or folder: {root}")
        listing = [base] if fs.isfile(base) else sorted(fs.find(base, withdirs=False))
        for item in listing:
            name = os.path.basename(item)
            # Hidden files and folders (caches, partial downloads) are not part of the library.
            if any(part.startswith(".") for part in _relative_parts(item, base)):
                continue
            full = _qualify(fs, item)
            if full in seen:
                continue
            seen.add(full)
            size = fs.size(item) or 0
            claims_video = Path(name).suffix.lower() in VIDEO_EXTENSIONS
            if claims_video or (size and _looks_like_video(fs, item)):
                yield Candidate(path=full, size_bytes=size)


def _relative_parts(item: str, base: str) -> list[str]:
    rel = item[len(base):] if item.startswith(base) else os.path.basename(item)
    return [p for p in rel.split("/") if p] or [os.path.basename(item)]


def _qualify(fs: fsspec.AbstractFileSystem, item: str) -> str:
    if isinstance(fs, fsspec.implementations.local.LocalFileSystem):
        return str(Path(item).resolve())
    return fs.unstrip_protocol(item)


def _looks_like_video(fs: fsspec.AbstractFileSystem, item: str) -> bool:
    try:
        with fs.open(item, "rb") as f:
            return sniff_container(f.read(512)) is not None
    except OSError:
        return False


def read_head(path: str, n: int = 512) -> bytes:
    with fsspec.open(path, "rb") as f:
        return f.read(n)


def checksum(path: str) -> str:
    """SHA-256 of the file's bytes, streamed: identity of a video independent of its path."""
    digest = hashlib.sha256()
    with fsspec.open(path, "rb") as f:
        while block := f.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


@contextlib.contextmanager
def local_copy(path: str) -> Iterator[str]:
    """A local file path for `path`: itself when local, else a temporary copy removed afterwards.

    ffprobe, decord and fpcalc need seekable local files; remote videos are staged one at a time.
    """
    if not is_remote(path):
        yield path.removeprefix("file://")
        return
    suffix = Path(path).suffix
    fd, tmp = tempfile.mkstemp(prefix="vidsearch-", suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as out, fsspec.open(path, "rb") as src:
            shutil.copyfileobj(src, out, _CHUNK)
        yield tmp
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
