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


class DuplicateGroup(BaseModel):
    ids: list[str] = Field(description="Row ids, for /image/{id} and /thumbnail/{id}")
    roots: list[str] = Field(description="The indexed folder (or prefix) of each image")
    paths: list[str] = Field(description="Each image's path relative to its root")
    min_score: float = Field(description="The weakest confirmed pair that joined the group (1.0: copies)")


class DuplicatesResponse(BaseModel):
    threshold: float
    groups: list[DuplicateGroup] = Field(description="Largest first")
    proposed_pairs: int = Field(description="Look-alike pairs the model proposed for the pixel check")
    detail_rejected: int = Field(
        default=0,
        description="Pairs that passed the threshold but differ in one detail on finer grids, in colour or in"
        " shape (left out)",
    )
    unreadable: list[str] = Field(description="Ids whose original could not be read (pairs left out)")
    changed: list[str] = Field(
        default_factory=list,
        description="Ids whose file is gone or changed since it was indexed (no exact-copy group)",
    )
    seconds: float


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
    adapter: dict | None = Field(
        default=None,
        description='the active query adapter, {"method", "trained_on", "classes", "created", "strength", '
        '"neighbours", "mix"}, or null; {"error"} when the stored one cannot be read',
    )


class Ready(BaseModel):
    """Readiness: 200 once the model and the search index are loaded, 503 (same body) before."""

    status: str = Field(description="ready, loading, or failed")
    version: int = Field(
        description="catalog version being served; a new one is picked up on the next request"
    )
    images: int
    model: str
    ann: str = Field(description="unused (exact search), pending, or ready")
    ann_delta: int = Field(
        default=0,
        description="rows added, changed or deleted since the ANN index was built; searched exactly "
        "until `pixseek index` rebuilds it",
    )
    ann_cached: float | None = Field(
        default=None,
        description="past RAM: the share of the vector file read into the page cache at start (0 to 1); "
        "null when it is not read (exact or IVF-Flat search, PIXSEEK_ANN_WARMUP=off, or too large)",
    )
    error: str | None = None


_MEANINGS = {
    400: "a bad query",
    401: "a missing or wrong token (when the server has one)",
    404: "not in the index",
    409: "an ambiguous path (detail.matches), or a file changed since it was indexed",
    413: "an upload or image too large",
    415: "not an image",
    422: "a malformed request",
    429: "over the rate limit (Retry-After)",
    502: "storage that cannot be read (an object store, the catalog, a damaged adapter)",
    503: "too many requests in flight (Retry-After)",
}
_GUARDED = (401, 429, 503)  # the token, rate and concurrency limits: every route but the open ones


def error_responses(*codes: int) -> dict[int | str, dict[str, object]]:
    """The errors a guarded route can answer (its own `codes` and the guards'), all `{"error", "detail"}`."""
    return open_errors(*codes, *_GUARDED)


def open_errors(*codes: int) -> dict[int | str, dict[str, object]]:
    """The errors an open route (no token, never throttled) can answer, all `{"error", "detail"}`."""
    return {code: {"model": ErrorResponse, "description": _MEANINGS[code]} for code in sorted(set(codes))}
