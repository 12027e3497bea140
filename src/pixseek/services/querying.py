"""A typed Query -> its top-k: images and texts through the model and likes from the index give one
query vector (search.query.combine_terms), then marks re-rank by relevance feedback, or an active
adapter re-ranks, or the plain index answers."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from numbers import Integral
from typing import Any

import numpy as np

from pixseek.errors import QueryError
from pixseek.locations import Location
from pixseek.search import SearchFilter, SearchMatrix, combine_terms
from pixseek.search.adapter import QueryAdapter
from pixseek.search.matrix import query_rows
from pixseek.search.query import Query, Term
from pixseek.services.adapting import adapted_search
from pixseek.services.feedback import feedback_search
from pixseek.types import Embedder, SearchHit


def as_query(query: Query | None, terms: dict[str, Any]) -> Query:
    """A Query, given one or as keywords (not both)."""
    if query is not None and terms:
        raise QueryError(f"give a Query or keyword terms, not both (got {', '.join(sorted(terms))})")
    if query is not None:
        if not isinstance(query, Query):
            raise QueryError(
                f"search takes a pixseek.Query or keywords, not {type(query).__name__}: "
                "search(image=PATH) for a picture, search(like=ID_OR_PATH) for an indexed one"
            )
        return query
    try:
        return Query.of(**terms)
    except TypeError as exc:  # an unknown keyword
        raise QueryError(str(exc).replace("Query.of()", "search")) from None


def query_vector(m: SearchMatrix, query: Query, embedder: Callable[[], Embedder]) -> np.ndarray:
    """The query's vector; `embedder` is asked for only when a term needs the model."""
    positive = _vectors(m, embedder, query.images, query.texts, query.likes) + list(query.vectors)
    negative = _vectors(m, embedder, query.minus_images, query.minus_texts, query.minus_likes)
    return combine_terms(positive, negative)


def search_one(
    m: SearchMatrix,
    query: Query,
    embedder: Callable[[], Embedder],
    *,
    adapter: Callable[[], QueryAdapter | None],
    k: int,
    filters: SearchFilter | None,
    ann_folder: Location | None,
) -> list[SearchHit]:
    """Top-k for one query (see Index.search); `adapter` gives the active one, or None, and is asked once
    the query's likes are known to be in the index."""
    shown = {m.row(key) for key in (*query.positive, *query.negative)} if query.include_marked else set()
    liked = (m.row(key) for key, _ in query.likes)  # the like terms leave themselves out, unless marked
    exclude = [m.ids[row] for row in liked if row not in shown] + list(query.exclude_ids)
    active = adapter()
    if query.has_marks:
        vector = query_vector(m, query, embedder) if query.has_terms else None
        if vector is not None and active is not None:
            vector = active.apply(vector)
        return feedback_search(
            m, vector, list(query.positive), list(query.negative), k=k, filters=filters,
            exclude_ids=exclude, include_marked=query.include_marked, method=query.feedback,
            ann_folder=ann_folder,
            adapter=active if active is not None and active.reranks else None,
            query_map=active.apply if active is not None and not active.reranks else None,
        )  # fmt: skip
    vector = query_vector(m, query, embedder)
    if active is not None:
        return adapted_search(
            m, active, vector, k=k, filters=filters, exclude_ids=exclude, ann_folder=ann_folder
        )
    return m.search(vector, k=k, filters=filters, exclude_ids=exclude, ann_folder=ann_folder)[0]


def as_filter(filters: object) -> SearchFilter | None:
    """A SearchFilter, None, or its fields as a mapping ({"label": "birds"})."""
    if filters is None or isinstance(filters, SearchFilter):
        return filters
    if isinstance(filters, Mapping):
        try:
            return SearchFilter(**filters)
        except TypeError:
            pass
    raise QueryError(
        "filters takes a pixseek.SearchFilter(label=, folder=, path_glob=) or a dict of those, "
        f"got {filters!r}"
    )


def unit_query_rows(vectors: object, dim: int) -> np.ndarray:
    """Query vectors checked (`query_rows`) and scaled to length 1, as every stored vector is, so that
    scores are cosines whatever scale the caller's vectors came in."""
    rows = query_rows(vectors, dim, np.float64)  # float32 squares overflow past about 1e19
    rows /= np.abs(rows).max(axis=1, keepdims=True).clip(min=np.finfo(np.float64).tiny)  # ... and float64's
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    if not (norms > 0).all():
        raise QueryError("a query vector is all zeros: it points nowhere")
    return (rows / norms).astype(np.float32)


def check_k(k: object, max_k: int) -> None:
    if isinstance(k, bool) or not isinstance(k, Integral) or not 1 <= k <= max_k:
        raise QueryError(f"k must be an integer from 1 to {max_k}, got {k!r}")


def _vectors(
    m: SearchMatrix,
    embedder: Callable[[], Embedder],
    images: Sequence[Term],
    texts: Sequence[Term],
    likes: Sequence[Term],
) -> list[tuple[np.ndarray, float]]:
    out: list[tuple[np.ndarray, float]] = []
    if images:
        vecs = embedder().embed_images([v for v, _ in images])
        out += [(vec, w) for vec, (_, w) in zip(vecs, images, strict=True)]
    if texts:
        if not all(isinstance(v, str) for v, _ in texts):
            raise QueryError("text terms must be strings")
        if not all(v.strip() for v, _ in texts):
            raise QueryError("a text query is empty: give some words to search for")
        vecs = embedder().embed_texts([v for v, _ in texts])
        out += [(vec, w) for vec, (_, w) in zip(vecs, texts, strict=True)]
    out += [(m.vector(m.row(value)), w) for value, w in likes]
    return out
