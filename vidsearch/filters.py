"""Search filters: what a user may narrow a search by, and the Qdrant filter they become."""

from __future__ import annotations

from pydantic import BaseModel, Field
from qdrant_client import models


class SearchFilters(BaseModel):
    path_prefix: str | None = Field(None, description="only videos under this folder")
    min_duration_s: float | None = Field(None, ge=0)
    max_duration_s: float | None = Field(None, ge=0)
    min_height: int | None = Field(None, ge=0)
    codec: str | None = Field(None, description="video codec name as ffprobe reports it, e.g. h264")
    video_id: str | None = None

    def to_qdrant(self) -> models.Filter | None:
        must: list[models.Condition] = []
        if self.path_prefix:
            folder = self.path_prefix.rstrip("/") or "/"
            must.append(models.FieldCondition(key="dirs", match=models.MatchValue(value=folder)))
        if self.min_duration_s is not None or self.max_duration_s is not None:
            must.append(
                models.FieldCondition(
                    key="duration_s", range=models.Range(gte=self.min_duration_s, lte=self.max_duration_s)
                )
            )
        if self.min_height is not None:
            must.append(models.FieldCondition(key="height", range=models.Range(gte=self.min_height)))
        if self.codec:
            must.append(models.FieldCondition(key="codec", match=models.MatchValue(value=self.codec.lower())))
        if self.video_id:
            must.append(models.FieldCondition(key="video_id", match=models.MatchValue(value=self.video_id)))
        return models.Filter(must=must) if must else None
