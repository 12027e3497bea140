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


class Info(BaseModel):
    """What the page shows about the index: its size, model, labels, and whether text search works."""

    images: int
    model: str
    labels: list[str]
    has_text: bool
    max_k: int


class Ready(BaseModel):
    """Readiness: 200 once the model and the search index are loaded, 503 (same body) before."""

    status: str = Field(description="ready, loading, or failed")
    version: int = Field(
        description="catalog version being served; a new one is picked up on the next request"
    )
    images: int
    model: str
    ann: str = Field(description="unused (exact search), pending, or ready")
    error: str | None = None


ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorResponse} for code in (400, 404, 409, 413, 415, 422)
}
