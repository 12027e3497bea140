"""Relevance feedback measured with a simulated user: what one and two rounds of marks are worth.

Every image is a query (or a fixed sample of them on large sets). Round 0 is the plain top-k. The user
marks each result they have not seen before: relevant when it has the query's label, irrelevant otherwise.
Rounds 1 and 2 re-query with all marks so far, through the same scoring the server uses
(`search.feedback.combine`). Per round:
- `precision_at_10`: the top 10, marked images included (as `include_marked=true` shows them);
- `residual_precision_at_10`: the best 10 images not shown before, the honest figure, since re-ranking
  images the user already judged teaches them nothing new.
`without_feedback` is the same user paging through the plain ranking instead (ranks 11-20, then 21-30):
the residual figure a round of feedback must beat.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from pixseek.search.feedback import DEFAULT_METHOD, METHODS, FeedbackMethod, combine, svm_decision

K = 10
ROUNDS = 2
FULL_MATRIX_LIMIT = 15_000  # images: the N x N similarity matrix (float32) stays under 1 GB
SAMPLED_QUERIES = 2_000  # queries beyond that size, a fixed random sample


class _Similarities:
    """Columns of V @ V.T: precomputed for small sets, computed per column (and cached) for large ones."""

    def __init__(self, vectors: np.ndarray) -> None:
        self._v = vectors
        self._full = vectors @ vectors.T if len(vectors) <= FULL_MATRIX_LIMIT else None
        self._cache: dict[int, np.ndarray] = {}

    def columns(self, rows: list[int]) -> np.ndarray:
        if self._full is not None:
            return self._full[:, rows]
        missing = [r for r in rows if r not in self._cache]
        if missing:
            for r, col in zip(missing, (self._v @ self._v[missing].T).T, strict=True):
                self._cache[r] = col
        return np.column_stack([self._cache[r] for r in rows]) if rows else np.zeros((len(self._v), 0))

    def forget(self) -> None:
        self._cache.clear()


def simulate(
    vectors: np.ndarray,
    labels: list[str],
    *,
    method: FeedbackMethod = DEFAULT_METHOD,
    seed: int = 0,
    similarities: _Similarities | None = None,
) -> dict[str, Any]:
    """One method's rounds; `vectors` are L2-normalised rows, `labels` one per row."""
    v = np.asarray(vectors, dtype=np.float32)
    y = np.asarray(labels)
    n = len(v)
    sims = similarities or _Similarities(v)
    queries = np.arange(n)
    if n > FULL_MATRIX_LIMIT:
        queries = np.sort(np.random.default_rng(seed).choice(n, SAMPLED_QUERIES, replace=False))
    with_marks = np.zeros((ROUNDS + 1, 2))
    plain = np.zeros(ROUNDS + 1)
    for q in queries:
        relevant = y == y[q]
        relevant[q] = False
        shown = np.zeros(n, dtype=bool)
        shown[q] = True
        positive: list[int] = []
        negative: list[int] = []
        scores = sims.columns([int(q)])[:, 0].copy()
        plain_order = _ranked(scores, q)
        for r in range(ROUNDS + 1):
            # sums over K, not means: on a set too small to fill 10 results, an empty slot is not relevant
            plain[r] += relevant[plain_order[r * K : (r + 1) * K]].sum() / K
            order = _ranked(scores, q)[: n - 1]  # the query itself is never a result
            with_marks[r, 0] += relevant[order[:K]].sum() / K
            fresh = order[~shown[order]][:K]
            with_marks[r, 1] += relevant[fresh].sum() / K
            for i in fresh:
                (positive if relevant[i] else negative).append(int(i))
            shown[fresh] = True
            if r < ROUNDS:
                scores = _rescore(method, v=v, sims=sims, q=int(q), positive=positive, negative=negative)
        sims.forget()
    count = len(queries)
    return {
        "method": method,
        "k": K,
        "queries": count,
        "rounds": [
            {"precision_at_10": round(p / count, 4), "residual_precision_at_10": round(rp / count, 4)}
            for p, rp in with_marks
        ],
        "without_feedback": [{"residual_precision_at_10": round(p / count, 4)} for p in plain],
    }


def compare(
    vectors: np.ndarray, labels: list[str], *, progress: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """report.json's "feedback" block: the default method's rounds, plus every method side by side."""
    v = np.asarray(vectors, dtype=np.float32)
    sims = _Similarities(v)
    compared = {}
    for method in METHODS:
        if progress:
            progress(f"relevance feedback, simulated user: {method}")
        compared[method] = simulate(v, labels, method=method, similarities=sims)  # type: ignore[arg-type]
    block = dict(compared[DEFAULT_METHOD])
    block["compared"] = {m: {"rounds": r["rounds"]} for m, r in compared.items()}
    return block


def _ranked(scores: np.ndarray, query: int) -> np.ndarray:
    s = scores.copy()
    s[query] = -np.inf
    return np.argsort(-s, kind="stable")


def _rescore(
    method: FeedbackMethod,
    *,
    v: np.ndarray,
    sims: _Similarities,
    q: int,
    positive: list[int],
    negative: list[int],
) -> np.ndarray:
    decision = None
    if method == "svm" and negative:
        decision = svm_decision(v, v[[q, *positive]], v[negative])
    to_query = sims.columns([q])[:, 0]
    scores = combine(method, to_query, sims.columns(positive), sims.columns(negative), decision)
    # Marked relevant images first, as a client showing its marks lists them (include_marked=true).
    scores = scores.astype(np.float64)
    scores[positive] += 10.0
    return scores
