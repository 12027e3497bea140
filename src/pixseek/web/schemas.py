"""The JSON shapes of the API, as pydantic models (they also drive /docs and /openapi.json)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class SearchResult(BaseModel):
    id: str = Field(description="Unique row id: use it for like=, /image/{id} and /thumbnail/{id}")
    root: str = Field(description="The indexed folder the image came from (absolute)")
    path: str = Field(description="Path relative to root")
    score: float = Field(description="Cosine similarity to the query")
    label: str | None = Field(description="First folder level under the root")
    image_url: str
    thumbnail_url: str


class SearchResponse(BaseModel):
    results: list[SearchResult]
    model: str
    took_ms: float


class ErrorResponse(BaseModel):
    error: str = Field(description="What went wrong, for a person")
    detail: object | None = None


class Health(BaseModel):
    status: str
    images: int
    model: str


ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorResponse} for code in (400, 404, 409, 413, 415, 422)
}
