"""What the store keeps about each video."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from vidsearch.media.probe import VideoMetadata

VideoStatus = Literal["indexing", "complete", "failed"]


class TextState(BaseModel):
    """What one origin of a video's text (its speech, a sidecar file, a subtitle track) gave."""

    source: str  # "speech" or "subtitle:<lang>"
    status: Literal["complete", "failed"]
    signature: str  # the speech model's name, or the sidecar's content hash: a change reads it again
    lang: str | None = None
    segments: int = 0
    error: str | None = None


class Scene(BaseModel):
    """One shot of a video: from the boundary that opens it to the next one."""

    start_s: float
    end_s: float
    frame: int  # the sample that shows it: its thumbnail, its representative vectors
    opens_with: Literal["start", "cut", "gradual"]


class CopyLink(BaseModel):
    """Another video that is the same footage as this one, and where: this video's span
    [start_s, end_s) is the other's [other_start_s, other_end_s) (vidsearch.duplicates)."""

    video_id: str
    start_s: float
    end_s: float
    other_start_s: float
    other_end_s: float
    offset_s: float  # the other's second = this one's + offset_s
    score: float
    covers: float  # of this video's frames, the share matched in the other
    other_covers: float


class VideoRecord(BaseModel):
    video_id: str
    path: str
    checksum: str
    size_bytes: int
    status: VideoStatus
    error: str | None = None
    metadata: VideoMetadata | None = None
    audio: str | None = None  # fingerprinted, silent, too_short, none, failed
    fingerprint: str | None = None  # base64 little-endian uint32 chromaprint items
    frames: int = 0
    sampling_fps: float | None = None
    copy_descriptor: str | None = None  # embedders.copy.VERSION the copy vectors were made with
    semantic_model: str | None = None  # None: only copy vectors were indexed
    texts: dict[str, TextState] = {}  # by origin: "speech", "file:<path>", "track:<stream index>"
    scenes: list[Scene] | None = None  # None: indexed without shot detection
    copies: list[CopyLink] | None = None  # older videos of the same footage; None: not looked for
    updated_at: float | None = None

    def frame_payload(self) -> dict:
        """Fields copied onto every frame point so that searches can filter without a join."""
        meta = self.metadata
        return {
            "video_id": self.video_id,
            "path": self.path,
            "dirs": parent_dirs(self.path),
            "duration_s": meta.duration_s if meta else None,
            "width": meta.width if meta else None,
            "height": meta.height if meta else None,
            "codec": meta.video_codec if meta else None,
        }


def parent_dirs(path: str) -> list[str]:
    """Every folder above `path` ("/a/b/c.mp4" -> ["/", "/a", "/a/b"]): a keyword-indexable field
    that makes "videos under this folder" an exact match instead of a prefix scan."""
    parts = path.rstrip("/").split("/")[:-1]
    dirs = ["/".join(parts[: i + 1]) or "/" for i in range(len(parts))]
    return list(dict.fromkeys(dirs))
