"""What the HTTP API answers besides its results: the one shape of every error, and which errors
each route may give, so that the OpenAPI document says what the service does."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ErrorBody(BaseModel):
    error: str = Field(description="what went wrong, in words a person can act on")
    capability: str | None = Field(None, description="the capability that is off (503): semantic")


_WHY = {
    400: "the body is not JSON, or not form data",
    401: "the route needs the service's API key (X-API-Key, or the page's cookie)",
    403: "the path may not be indexed from here (serve.index_roots)",
    404: "no such video, thumbnail, file, job or result set",
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
