"""Which adapter trainer a method name means; the one place `pixseek adapt` and `eval --adapt` choose it."""

from __future__ import annotations

import numpy as np

from pixseek.errors import QueryError
from pixseek.evaluation.adapt import TrainedMap, train_query_map
from pixseek.evaluation.adapt_classes import train_classes
from pixseek.search.adapter import CLASS_METHODS, DEFAULT_METHOD, METHODS, QUERY_RESIDUAL, QueryAdapter

__all__ = ["DEFAULT_METHOD", "as_adapter", "train_adapter"]


def train_adapter(
    vectors: np.ndarray,
    labels: list[str],
    *,
    method: str = DEFAULT_METHOD,
    seed: int = 0,
    settings: dict[str, float] | None = None,
) -> TrainedMap:
    """`settings` override a class method's defaults (c, strength, neighbours, mix): for the studies that
    chose them (benchmarks/adapt_variants.py)."""
    if method in CLASS_METHODS:
        return train_classes(vectors, labels, method=method, seed=seed, **(settings or {}))
    if method == QUERY_RESIDUAL:
        return train_query_map(vectors, labels, seed=seed)
    raise QueryError(f"unknown adapter method {method!r}; choose one of {', '.join(METHODS)}")


def as_adapter(trained: TrainedMap, created: str = "") -> QueryAdapter:
    """The trained map as search applies it."""
    return QueryAdapter(
        trained.matrix,
        trained.method,
        trained.classes,
        trained.trained_on,
        created,
        trained.strength,
        neighbours=trained.neighbours,
        mix=trained.mix,
    )
