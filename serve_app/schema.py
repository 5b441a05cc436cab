"""What the HTTP API answers besides its results: the one shape of every error, and which errors
each route may give, so that the OpenAPI document says what the service does."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field
from pydantic.json_schema import SkipJsonSchema

from vidsearch.index_jobs import IndexJob
from vidsearch.results import CopyPair, JobProgress, Match, Moment, TranscriptLine
from vidsearch.store.records import TextState, VideoRecord


class ErrorBody(BaseModel):
    error: str = Field(description="what went wrong, in words a person can act on")
    capability: str | None = Field(None, description="the capability that is off (503): semantic, copy descriptor")


_WHY = {
    400: "the body is not JSON, or not form data",
    401: "the route needs the service's API key (X-API-Key, or the page's cookie)",
    403: "the path may not be indexed from here (serve.index_roots)",
    404: "no such video, scene, thumbnail, file, job or result set",
    409: "a running job already covers the path, or the job is not running",
    413: "the upload is larger than serve.max_upload_mb",
    422: "the request is invalid: the error says which part",
    503: "the capability is off: the semantic model is not available, or the store is unreachable",
    507: "the disk holding the data dir is full: free space, then try again",
}


def errors(*codes: int) -> dict:
    """`responses=` for a route that may answer these errors (422 and 503, which any route may
    give, always)."""
    return {code: {"model": ErrorBody, "description": _WHY[code]} for code in sorted({*codes, 422, 503})}


# -- responses: the core's results (vidsearch.results) in the envelopes of each route --------------


class Capabilities(BaseModel):
    text_search: bool
    words_search: bool
    image_search: bool
    clip_match: bool
    audio_verification: bool


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    capabilities: Capabilities
    reasons: dict[str, str] = Field(description="why a capability is off, by capability")
    semantic_runtime: dict[str, str] = Field(
        {}, description='where each semantic tower runs, e.g. {"text": "onnx int8", "image": "onnx int8"}'
    )


class SearchResponse(BaseModel):
    results: list[Moment]
    export_id: str | None = Field(description="GET /export?id= downloads these results; None: they could not be kept")
    notes: list[str] = []


class SceneView(BaseModel):
    index: int
    start_s: float
    end_s: float
    opens_with: Literal["start", "cut", "gradual"] = Field(description="what begins it: the video's start, a cut, a fade or dissolve")
    thumbnail_url: str = Field(description="the frame that shows it")


class ScenesResponse(BaseModel):
    video_id: str
    detected: bool = Field(description="False: indexed without shot detection (scenes.enabled); re-index to find them")
    scenes: list[SceneView]


class SceneAnchor(BaseModel):
    """The scene a "more like this" started from."""

    video_id: str
    path: str
    index: int | None = Field(description="None: the video has no scenes, the seconds around the one given stand for one")
    start_s: float
    end_s: float
    searched: Literal["semantic", "copy"] = Field(description="which vectors: the semantic model's, or the copy vectors without it")


class SceneSearchResponse(BaseModel):
    anchor: SceneAnchor
    results: list[Moment]
    export_id: str | None


class GroupVideo(BaseModel):
    video_id: str
    path: str
    duration_s: float | None


class DuplicateGroup(BaseModel):
    videos: list[GroupVideo]
    pairs: list[CopyPair]


class DuplicatesResponse(BaseModel):
    groups: list[DuplicateGroup] = Field(description="sets of videos that are the same footage, largest first")
    videos: int = Field(description="complete videos in the library")
    unchecked: int = Field(description="complete videos indexed before copies were looked for: re-index them to")


class MatchResponse(BaseModel):
    matches: list[Match]
    export_id: str | None


class VideoView(VideoRecord):
    """A video's record as the API shows it: without its audio fingerprint (large, internal)."""

    fingerprint: SkipJsonSchema[str | None] = Field(None, exclude=True)

    @classmethod
    def of(cls, record: VideoRecord) -> VideoView:
        return cls.model_validate(record.model_dump(exclude={"fingerprint"}))


class VideosResponse(BaseModel):
    videos: list[VideoView]


class TranscriptResponse(BaseModel):
    video_id: str
    segments: list[TranscriptLine]
    texts: dict[str, TextState] = Field(description="what each origin of the video's text gave")


class Deleted(BaseModel):
    deleted: str
    path: str


class JobView(IndexJob):
    progress: JobProgress


class JobResponse(BaseModel):
    job: JobView


class JobsResponse(BaseModel):
    jobs: list[JobView]
    roots: list[str] = Field(description="the folders that may be indexed from here")
