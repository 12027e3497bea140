"""Query algebra: weighted positive and negative terms combined into one normalised query vector."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from pixseek.errors import QueryError

WeightedVector = tuple[np.ndarray, float]


def as_terms(value: Any) -> list[tuple[Any, float]]:
    """None | value | (value, weight) | a list of those -> [(value, weight), ...]."""
    if value is None:
        return []
    if isinstance(value, list):
        return [t for item in value for t in as_terms(item)]
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], int | float):
        if isinstance(value[1], bool):
            raise QueryError(f"a term weight must be a number, got {value[1]!r}")
        return [(value[0], float(value[1]))]
    return [(value, 1.0)]


def combine_terms(positive: Sequence[WeightedVector], negative: Sequence[WeightedVector] = ()) -> np.ndarray:
    """sum(w * p) - sum(w * n), renormalised; each term vector is normalised first so weights mean weights."""
    if not positive:
        raise QueryError("a search needs at least one positive term (an image, a text or --like)")
    dim = len(positive[0][0])
    total = np.zeros(dim, dtype=np.float64)
    for sign, terms in ((1.0, positive), (-1.0, negative)):
        for vector, weight in terms:
            if not (math.isfinite(weight) and weight > 0):
                raise QueryError(f"term weights must be positive numbers, got {weight!r}")
            v = np.asarray(vector, dtype=np.float64).reshape(-1)
            if v.shape != (dim,):
                raise QueryError(f"term vectors disagree in dimension: {v.shape[0]} vs {dim}")
            norm = np.linalg.norm(v)
            if norm > 0:
                total += sign * weight * v / norm
    norm = np.linalg.norm(total)
    if norm < 1e-6:
        raise QueryError("the query terms cancel each other out; change the terms or their weights")
    return (total / norm).astype(np.float32)
