"""Search with relevance feedback over one catalog version: candidates from ordinary searches around the
query and each relevant mark, re-scored by a `search.feedback` method."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from pixseek.errors import QueryError
from pixseek.locations import Location
from pixseek.search import SearchFilter, SearchMatrix
from pixseek.search.adapter import QueryAdapter
from pixseek.search.feedback import FeedbackMethod, check_method, rocchio_vector, scores
from pixseek.types import SearchHit

MAX_MARKS = 200  # per kind, per request: marks travel with every request
_CANDIDATES_PER_HIT = 4  # candidates fetched around each probe, per hit wanted
# Past RAM, rows the probes' searches re-score in all: each probe's own refine of a 1M-row catalog made
# 200 marks of each kind at k = 100 read 9M rows: 10 s with marks near the query, 8 s with marks far apart
# (benchmarks/feedback_recall.py, feedback_cost.py); within this budget 0.3 s and 2.2 s, and no trial lost
# a result against exact feedback over every row (docs/results.md, "What one feedback search costs").
RESCORE_BUDGET = 200_000


def feedback_search(
    m: SearchMatrix,
    query: np.ndarray | None,
    positive: Sequence[str],
    negative: Sequence[str],
    *,
    k: int,
    filters: SearchFilter | None = None,
    exclude_ids: Sequence[str] = (),
    include_marked: bool = False,
    method: str = "maxsim",
    ann_folder: Location | None = None,
    adapter: QueryAdapter | None = None,
    query_map: Callable[[np.ndarray], np.ndarray] | None = None,
) -> list[SearchHit]:
    """Top-k after the user's marks. Marked images are left out unless `include_marked`, which lists the
    relevant ones first (they are known to be relevant) and the irrelevant ones where they score; either
    way only those the filters allow.
    An `adapter` that scores both sides (class-posterior) maps the query, marks and candidates before
    they are compared (QueryAdapter.query_side, both_sides around the query, or without one the relevant
    marks' mean); candidates are still found with the plain vectors. A query-only adapter's map
    (`query_map`) maps the marks, which act as queries, as it maps the query."""
    chosen: FeedbackMethod = check_method(method)
    if len(positive) > MAX_MARKS or len(negative) > MAX_MARKS:
        raise QueryError(f"at most {MAX_MARKS} relevant and {MAX_MARKS} irrelevant marks per search")
    pos_rows = _rows(m, positive)
    neg_rows = [r for r in _rows(m, negative) if r not in set(pos_rows)]  # a row marked both ways: relevant
    relevant, irrelevant = _vectors(m, pos_rows), _vectors(m, neg_rows)
    if query_map is not None:
        relevant, irrelevant = (query_map(v) if len(v) else v for v in (relevant, irrelevant))
    if query is None and not pos_rows:
        raise QueryError("relevance feedback needs a query or at least one image marked relevant")
    probes = [] if query is None else [np.asarray(query, dtype=np.float32)]
    probes += list(relevant)
    if chosen == "rocchio":  # one moved query, plus each relevant mark so include_marked can show it
        probes = [rocchio_vector(query, relevant, irrelevant), *relevant]
    marked = {m.ids[r] for r in (*pos_rows, *neg_rows)}
    hidden = set(exclude_ids) | (set() if include_marked else marked)
    want = k + len(hidden) + _CANDIDATES_PER_HIT * k
    found = m.search_rows(
        np.stack(probes), k=want, filters=filters, ann_folder=ann_folder, rescore_budget=RESCORE_BUDGET
    )
    allowed = {r for r in pos_rows if filters is None or filters.matches(m.paths[r], m.labels[r])}
    found_rows = {int(r) for rows, _ in found for r in rows}
    candidates = sorted(found_rows | (allowed if include_marked else set()))
    candidates = [r for r in candidates if m.ids[r] not in hidden]
    if not candidates:
        return []
    rows = np.array(candidates, dtype=np.int64)
    if adapter is None:
        score = scores(chosen, m.row_vectors(rows), query, relevant, irrelevant)
    else:  # every row compared, once each, so all see the same neighbours (a smoothing adapter)
        union = np.unique(np.concatenate([rows, pos_rows, neg_rows]).astype(np.int64))
        around = np.asarray(query if query is not None else relevant.mean(axis=0), dtype=np.float32)
        vectors = m.row_vectors(union)
        mapped_rows = adapter.both_sides(vectors, around=around)
        mapped = None if query is None else adapter.query_side(around, vectors)

        def of(keys: Sequence[int] | np.ndarray) -> np.ndarray:
            return mapped_rows[np.searchsorted(union, np.asarray(keys, dtype=np.int64))]

        score = scores(chosen, of(rows), mapped, of(pos_rows), of(neg_rows))
    first = np.isin(rows, pos_rows)  # known relevant: first, when they are shown at all
    order = np.lexsort((rows, -score, ~first))[:k]
    return [m.hit(int(rows[i]), float(score[i])) for i in order]


def _rows(m: SearchMatrix, keys: Sequence[str]) -> list[int]:
    out: list[int] = []
    for key in keys:
        row = m.row(key)
        if row not in out:
            out.append(row)
    return out


def _vectors(m: SearchMatrix, rows: list[int]) -> np.ndarray:
    if not rows:
        return np.zeros((0, m.dim or 0), dtype=np.float32)
    return np.stack([m.vector(r) for r in rows]).astype(np.float32)
