"""`pixseek eval --adapt`: does the query adapter help, measured on images it was not trained on.

Seen classes: every class is split in half (stratified); the adapter is trained on one half and
leave-one-out retrieval (P@10, mAP@10) is measured among the other half, frozen against adapted, the
adapted ranking made as search makes it (`adapted_retrieval`). Unseen classes: the classes are split in
half; the adapter is trained on one half's images and measured among the other half's, the test of whether
it helps the next folder a user adds.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from sklearn.model_selection import train_test_split

from pixseek.errors import EvaluationError
from pixseek.evaluation.adapters import DEFAULT_METHOD, as_adapter, train_adapter
from pixseek.evaluation.metrics import RetrievalScores, ranking_scores, retrieval_scores
from pixseek.search.adapter import (
    RERANK_POOL,
    SMOOTHING_REFERENCE,
    QueryAdapter,
    nearest_in_block,
    pool_scores,
    posteriors,
    unit_rows,
)

MIN_PER_CLASS = 4  # two to train on and two to measure among
FULL_SIMILARITIES = 12_000  # rows up to which all cosines are computed once (float32: under 600 MB)


def adaptable_classes(labels: list[str]) -> np.ndarray:
    """The classes the study uses (MIN_PER_CLASS images or more), or EvaluationError when there are fewer
    than 4: checked before the rest of `pixseek eval` runs, not after it."""
    names, counts = np.unique(np.asarray(labels, dtype=object), return_counts=True)
    kept = names[counts >= MIN_PER_CLASS]
    if len(kept) < 4:
        raise EvaluationError(f"--adapt needs at least 4 classes of {MIN_PER_CLASS}+ images")
    return kept


def compare(
    vectors: np.ndarray,
    labels: list[str],
    *,
    seed: int = 0,
    method: str = DEFAULT_METHOD,
    settings: dict[str, float] | None = None,
) -> dict[str, Any]:
    """The report's "adaptation" block; `settings` override the method's defaults (train_adapter)."""
    x = np.asarray(vectors, dtype=np.float32)
    y = np.asarray(labels, dtype=object)
    kept = adaptable_classes(labels)
    x, y = x[np.isin(y, kept)], y[np.isin(y, kept)]
    train, test = train_test_split(np.arange(len(y)), test_size=0.5, stratify=y, random_state=seed)
    started = time.perf_counter()
    seen_map = as_adapter(
        train_adapter(x[train], list(y[train]), method=method, seed=seed, settings=settings)
    )
    train_seconds = time.perf_counter() - started
    rng = np.random.default_rng(seed)
    fitted_classes = set(rng.permutation(kept)[: len(kept) // 2])
    on_fitted = np.isin(y, list(fitted_classes))
    unseen_map = as_adapter(
        train_adapter(x[on_fitted], list(y[on_fitted]), method=method, seed=seed, settings=settings)
    )
    return {
        "method": method,
        "train_seconds": round(train_seconds, 2),
        "train_images": len(train),
        "classes": len(kept),
        "seen": _frozen_and_adapted(x[test], y[test], seen_map),
        "unseen": _frozen_and_adapted(x[~on_fitted], y[~on_fitted], unseen_map),
    }


def _frozen_and_adapted(x: np.ndarray, y: np.ndarray, adapter: QueryAdapter) -> dict[str, dict[str, float]]:
    labels = [str(v) for v in y]
    out = {}
    for name, r in (
        ("frozen", retrieval_scores(x, labels, k=10)),
        ("adapted", adapted_retrieval(x, labels, adapter)),
    ):
        out[name] = {"precision_at_10": round(r.precision_at_10, 4), "map_at_10": round(r.map_at_10, 4)}
    return out


def adapted_retrieval(
    vectors: np.ndarray, labels: list[str], adapter: QueryAdapter, *, k: int = 10, chunk: int = 256
) -> RetrievalScores:
    """Leave-one-out retrieval through the adapter as search runs it: a query-only adapter maps the query
    and every row is scored; class-posterior ranks each query's pool of its max(k, RERANK_POOL) nearest
    rows (ties by row) with `search.adapter.pool_scores`, the formula `QueryAdapter.scores` applies in a
    search, a chunk of queries at a time."""
    x = unit_rows(np.asarray(vectors, dtype=np.float32))
    if not adapter.reranks:
        return retrieval_scores(x, labels, k=k, queries=adapter.apply(x))
    n = len(x)
    if n < 2:
        raise ValueError("retrieval needs at least two items")
    k = min(k, n - 1)
    pool = min(max(k, RERANK_POOL), n - 1)
    refs = min(SMOOTHING_REFERENCE, pool)
    p = posteriors(x, adapter.matrix[:, :-1], adapter.matrix[:, -1])
    full = x @ x.T if n <= FULL_SIMILARITIES else None
    top = np.empty((n, k), dtype=np.int64)
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        similar = full[start:stop].copy() if full is not None else x[start:stop] @ x.T
        similar[np.arange(stop - start), np.arange(start, stop)] = -np.inf  # leave the query out
        part = np.argpartition(-similar, pool - 1, axis=1)[:, :pool]
        cosines = np.take_along_axis(similar, part, axis=1)
        order = np.lexsort((part, -cosines), axis=1)  # best first, ties by row
        pools, cosines = np.take_along_axis(part, order, axis=1), np.take_along_axis(cosines, order, axis=1)
        if full is not None:
            inner = full[pools[:, :, None], pools[:, None, :refs]]
        else:
            rows = x[pools]
            inner = np.matmul(rows, rows[:, :refs].transpose(0, 2, 1))
        inner[:, np.arange(refs), np.arange(refs)] = -np.inf
        k_near = min(adapter.neighbours, refs - 1)
        nearest = nearest_in_block(inner, k_near) if k_near > 0 and adapter.mix > 0 else None
        scores = pool_scores(
            cosines, p[start:stop], p[pools], nearest,
            strength=adapter.strength, neighbours=adapter.neighbours, mix=adapter.mix,
        )  # fmt: skip
        ranked = np.lexsort((pools, -scores), axis=1)[:, :k]
        top[start:stop] = np.take_along_axis(pools, ranked, axis=1)
    return ranking_scores(top, labels)


def with_active_adapter(vectors: np.ndarray, labels: list[str], adapter: QueryAdapter) -> dict[str, Any]:
    """report.json's "active_adapter" block: leave-one-out retrieval with the catalog's own adapter on the
    queries, as search runs it. An adapter trained on these very labels (`trained_on_these_labels`: its
    classes are the labels evaluated) gives optimistic figures; `compare` (--adapt) is the held-out
    measure."""
    adapted = adapted_retrieval(vectors, labels, adapter)
    same = sorted(set(labels)) == sorted(adapter.classes)
    return adapter.info() | {"trained_on_these_labels": same, "retrieval": adapted.to_dict()}
