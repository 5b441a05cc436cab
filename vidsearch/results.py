"""What searches, matches and the library answer: one typed model per kind of result.

The core returns these; the service sends them as they are (serve_app/schema.py wraps them in its
responses), so the OpenAPI document and the code say the same thing. Times are seconds.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Why = Literal["visual", "said", "subtitle"]  # what made a moment match


class Quote(BaseModel):
    """The words of a moment found in what is said or subtitled."""

    text: str
    marks: list[tuple[int, int]] = Field(description="character spans of `text` that matched the query")
    source: str = Field(description='"speech", or "subtitle:<lang>"')
    start_s: float
    end_s: float


class SceneSpan(BaseModel):
    """The scene (shot) a result stands for, with `group=scene`."""

    index: int = Field(description="its place among the video's scenes, from 0")
    start_s: float
    end_s: float
    thumbnail_url: str = Field(description="the frame that shows the scene")
    moments: int = Field(description="how many matching moments of the search fell in it")


class CopyRef(BaseModel):
    """The same moment in another copy of the footage (a re-encode, a trim...)."""

    video_id: str
    path: str
    timestamp_s: float


class Moment(BaseModel):
    """A second of a video that matches a search."""

    video_id: str
    path: str
    timestamp_s: float
    score: float
    matched: list[Why] = Field(description="what found it: the picture, what is said, what subtitles show")
    thumbnail_url: str | None = None
    quote: Quote | None = None
    scores: dict[str, float] | None = Field(None, description="each source's own score, when several were fused")
    scene: SceneSpan | None = Field(None, description="with group=scene: the scene this best moment stands for")
    copies: list[CopyRef] | None = Field(None, description="the same moment in other copies of the footage, folded into this result")


class TranscriptLine(BaseModel):
    start_s: float
    end_s: float
    text: str
    source: str = Field(description='"speech", or "subtitle:<lang>"')
    marks: list[tuple[int, int]] | None = Field(None, description="with a query: the spans that matched it")
    timestamp_s: float | None = Field(None, description="with a query: the second of the first match")


class Crop(BaseModel):
    """The window of the source's picture a clip shows, as fractions of its width and height."""

    x: float
    width: float
    y: float
    height: float


class AudioCheck(BaseModel):
    verified: bool = Field(description="the clip's audio sits where the picture put it")
    offset_s: float | None = Field(description="where the clip's audio starts in the source; None: not found")
    score: float


class Match(BaseModel):
    """A source a clip was cut from, and where."""

    video_id: str
    path: str
    score: float
    source_start_s: float
    source_end_s: float
    query_start_s: float = Field(description="where in the clip the source's part starts")
    query_end_s: float
    speed: float = Field(description="source seconds per clip second: 1.25 for a clip sped up by a quarter")
    visual_score: float
    flipped: bool = Field(description="the clip is the source mirrored")
    inset: str | None = Field(None, description="None: the whole picture; else where in the clip's picture the source sits")
    inset_box: Crop | None = Field(None, description="the box of the clip's picture the source fills, where one was found")
    crop: Crop | None = Field(None, description="the window of the source the clip shows, if it is a cut of it")
    evidence: Literal["visual", "both"] = Field("visual", description='"both" once the audio agrees')
    audio: AudioCheck | None = Field(None, description="None: the clip or the source has no usable audio")


class CopyPair(BaseModel):
    """Two videos of one footage: `a`'s [a_start_s, a_end_s) is `b`'s [b_start_s, b_end_s)."""

    a: str
    b: str
    a_start_s: float
    a_end_s: float
    b_start_s: float
    b_end_s: float
    offset_s: float = Field(description="b's second = a's second + offset_s")
    score: float = Field(description="how alike the aligned frames are (0-1)")
    relation: Literal["same", "contains", "within"] = Field(
        description="same: each holds the other; contains: a holds all of b; within: b holds all of a")

    def maps(self, video_id: str, second: float) -> tuple[str, float] | None:
        """The other video of the pair and its second for `second` of `video_id`, if inside the span."""
        if video_id == self.a and self.a_start_s - 1 <= second <= self.a_end_s + 1:
            return self.b, second + self.offset_s
        if video_id == self.b and self.b_start_s - 1 <= second <= self.b_end_s + 1:
            return self.a, second - self.offset_s
        return None


class StoreStats(BaseModel):
    videos: int
    complete: int
    indexing: int
    failed: int
    frames: int
    video_hours: float


class JobProgress(BaseModel):
    videos_done: int
    videos_total: int
    frames_done: int
    frames_total: int
    clips_done: int | None = Field(None, description="a match job's clips done (matched, unmatched or failed)")
    clips_total: int | None = None
