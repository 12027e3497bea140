"""POST /search: by uploaded image, text or an indexed id; all but the image as query or form fields."""

from __future__ import annotations

import io
import time
from functools import partial
from typing import Annotated

import numpy as np
from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.concurrency import run_in_threadpool

from pixseek.errors import ImageTooLargeError, QueryError
from pixseek.search.feedback import DEFAULT_METHOD as DEFAULT_FEEDBACK
from pixseek.search.feedback import check_method
from pixseek.search.query import Query as SearchQuery
from pixseek.services import SearchFilter
from pixseek.web.deps import AppState, State, find_stored
from pixseek.web.schemas import SearchResponse, SearchResult, error_responses

router = APIRouter(tags=["search"])

_MARK_DOC = {
    "positive": "An indexed id or path the user marked relevant (repeat the field for several)",
    "negative": "An indexed id or path the user marked not relevant (repeat the field for several)",
    "include_marked": "Also list the marked images (relevant ones first); by default they are left out",
    "feedback": "Relevance feedback method: maxsim (default), rocchio or svm",
}
_FILTER_DOC = {
    "label": "Only images whose first folder level is this label",
    "folder": "Only images under this folder (relative path prefix)",
    "path_glob": "Only images whose relative path matches this glob, e.g. *.png",
}
_ADAPTER_DOC = "false: search with the frozen vectors, leaving out the index's adapter (default true)"
_ERRORS = error_responses(400, 404, 409, 413, 415, 422, 502)


@router.post("/search", response_model=SearchResponse, responses=_ERRORS)
async def search(
    *,
    state: State,
    image: Annotated[UploadFile | None, File(description="An image to search by")] = None,
    text: Annotated[str | None, Form(description="Text to search by (CLIP models only)")] = None,
    like: Annotated[str | None, Form(description="An indexed id or path: more like this")] = None,
    k_form: Annotated[int | None, Form(alias="k", description="How many results")] = None,
    label_form: Annotated[str | None, Form(alias="label", description=_FILTER_DOC["label"])] = None,
    folder_form: Annotated[str | None, Form(alias="folder", description=_FILTER_DOC["folder"])] = None,
    glob_form: Annotated[str | None, Form(alias="path_glob", description=_FILTER_DOC["path_glob"])] = None,
    positive_form: Annotated[
        list[str] | None, Form(alias="positive", description=_MARK_DOC["positive"])
    ] = None,
    negative_form: Annotated[
        list[str] | None, Form(alias="negative", description=_MARK_DOC["negative"])
    ] = None,
    include_marked_form: Annotated[
        bool | None, Form(alias="include_marked", description=_MARK_DOC["include_marked"])
    ] = None,
    feedback_form: Annotated[str | None, Form(alias="feedback", description=_MARK_DOC["feedback"])] = None,
    adapter_form: Annotated[bool | None, Form(alias="adapter", description=_ADAPTER_DOC)] = None,
    k: Annotated[int | None, Query(description="How many results (default 5)")] = None,
    text_query: Annotated[
        str | None, Query(alias="text", description="Text to search by, as the form field `text`")
    ] = None,
    like_query: Annotated[
        str | None, Query(alias="like", description="An indexed id or path, as the form field `like`")
    ] = None,
    positive: Annotated[list[str] | None, Query(description=_MARK_DOC["positive"])] = None,
    negative: Annotated[list[str] | None, Query(description=_MARK_DOC["negative"])] = None,
    include_marked: Annotated[bool | None, Query(description=_MARK_DOC["include_marked"])] = None,
    feedback: Annotated[str | None, Query(description=_MARK_DOC["feedback"])] = None,
    label: Annotated[str | None, Query(description=_FILTER_DOC["label"])] = None,
    folder: Annotated[str | None, Query(description=_FILTER_DOC["folder"])] = None,
    path_glob: Annotated[str | None, Query(description=_FILTER_DOC["path_glob"])] = None,
    adapter: Annotated[bool | None, Query(description=_ADAPTER_DOC)] = None,
) -> SearchResponse:
    """Top-k most similar indexed images. Give any of `image`, `text` and `like`; several are combined.

    Relevance feedback: `positive` and `negative` carry the ids the user marked; the server keeps no state.
    """
    start = time.perf_counter()
    top_k = k_form if k_form is not None else (k if k is not None else 5)
    filters = SearchFilter(
        label=label_form or label or None,
        folder=folder_form or folder or None,
        path_glob=glob_form or path_glob or None,
    )
    vectors: list[np.ndarray] = []
    exclude: list[str] = []
    text = text if text is not None else text_query
    like = like if like is not None else like_query
    if image is not None and image.filename:  # a plain HTML form sends a nameless empty part for "no file"
        vectors.append(await _embed_upload(state, image))
    if text is not None and text.strip():
        vectors.append(await _embed_text(state, text))
    if like is not None and like.strip():
        row_id, vector = await run_in_threadpool(_like, state, like)  # one trip to the thread pool
        vectors.append(vector)
        exclude.append(row_id)
    query = SearchQuery(
        vectors=tuple((v, 1.0) for v in vectors),
        exclude_ids=tuple(exclude),
        positive=tuple(m for m in (positive_form or positive or []) if m.strip()),
        negative=tuple(m for m in (negative_form or negative or []) if m.strip()),
        include_marked=include_marked_form if include_marked_form is not None else bool(include_marked),
        feedback=check_method(feedback_form or feedback or DEFAULT_FEEDBACK),
        use_adapter=next((v for v in (adapter_form, adapter) if v is not None), True),
    )
    if not vectors and not query.positive:
        raise QueryError("give an image, text or like (an indexed id), or mark a result relevant")
    t0 = time.perf_counter()
    hits = await run_in_threadpool(partial(state.index.search, query, k=top_k, filters=filters))
    state.metrics.search_seconds.observe(time.perf_counter() - t0)
    results = [
        SearchResult(
            id=h.id,
            root=h.root or "",
            path=h.path,
            score=round(float(h.score), 6),
            label=h.label,
            image_url=f"/image/{h.id}",
            thumbnail_url=f"/thumbnail/{h.id}",
        )
        for h in hits
    ]
    return SearchResponse(
        results=results,
        model=state.index.embedder.name,
        took_ms=round(1000 * (time.perf_counter() - start), 2),
    )


def _like(state: AppState, like: str) -> tuple[str, np.ndarray]:
    """The id and stored vector of an indexed image given by id or path (404 if none, 409 if ambiguous),
    from one catalog version: one version check, not one per step."""
    return find_stored(state.index, like)


async def _embed_upload(state: AppState, upload: UploadFile) -> np.ndarray:
    limit = state.settings.max_upload_bytes
    data = await upload.read(limit + 1)
    if not data:
        raise QueryError("the uploaded image is empty")
    if len(data) > limit:
        raise too_large(limit)
    t0 = time.perf_counter()
    loader = state.index.embedder.image_loader()
    loaded = await run_in_threadpool(loader, io.BytesIO(data))
    vector = await state.batcher.embed(loaded.pixels)
    state.metrics.embed_seconds.labels("image").observe(time.perf_counter() - t0)
    return vector


async def _embed_text(state: AppState, text: str) -> np.ndarray:
    t0 = time.perf_counter()
    vector = (await state.runner.run(state.index.embedder.embed_texts, [text]))[0]
    state.metrics.embed_seconds.labels("text").observe(time.perf_counter() - t0)
    return vector


def too_large(limit: int) -> ImageTooLargeError:
    """413: the upload passed `limit` bytes (in MB from 1 MB up, else in bytes: not "the 0 MB limit")."""
    size = f"{limit / (1024 * 1024):g} MB" if limit >= 1024 * 1024 else f"{limit:,} byte"
    return ImageTooLargeError("upload", f"upload over the {size} limit")
