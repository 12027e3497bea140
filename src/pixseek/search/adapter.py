"""Query adapters: maps applied to query vectors only, so nothing stored changes.

Two methods, chosen between by measurement (benchmarks/adapt_study.py, docs/results.md):
- `class-direction` (default): q' = normalise(q + s * normalise(softmax(q W^T + b) W)), with W, b a
  multinomial logistic regression over the labelled vectors. It moves a query toward the direction that
  separates its (predicted) classes from the others, so candidates score by cosine plus their logits for
  the query's classes. Nonlinear in q, linear in the candidates.
- `query-residual`: q' = normalise(q + q A), a residual linear map trained against the class means.
On the same splits the first gained about half again as much on seen classes at the same cost on unseen
ones. Either way candidates keep their frozen vectors, so every index (exact, FAISS, the compressed one,
an older index plus a delta) serves it as it is, images indexed later are covered at once, and turning it
off is just not applying it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from pixseek.errors import QueryError

CLASS_DIRECTION = "class-direction"
QUERY_RESIDUAL = "query-residual"
METHODS = (CLASS_DIRECTION, QUERY_RESIDUAL)
DEFAULT_METHOD = CLASS_DIRECTION  # measured against query-residual in docs/results.md


def _normalise(u: np.ndarray) -> np.ndarray:
    return (u / np.maximum(np.linalg.norm(u, axis=-1, keepdims=True), 1e-12)).astype(np.float32)


def adapt_queries(queries: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """normalise(q + q A) per row, float32: the residual map, for search and its evaluation alike."""
    return _normalise(queries + queries @ matrix)


def toward_classes(queries: np.ndarray, weights: np.ndarray, bias: np.ndarray, strength: float) -> np.ndarray:
    """normalise(q + strength * normalise(softmax(q W^T + b) W)) per (normalised) row, float32."""
    q = _normalise(np.asarray(queries, dtype=np.float32))
    logits = q @ weights.T + bias
    logits -= logits.max(axis=-1, keepdims=True)
    p = np.exp(logits)
    p /= p.sum(axis=-1, keepdims=True)
    return _normalise(q + strength * _normalise(p @ weights))


@dataclass(frozen=True)
class QueryAdapter:
    """A trained map over one model's vectors. `matrix` is A in normalise(q + q A) (dim x dim) for
    query-residual, or [W | b] (classes x dim + 1) for class-direction, with `strength` s."""

    matrix: np.ndarray
    method: str
    classes: tuple[str, ...]
    trained_on: int
    created: str
    strength: float = 0.0

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise QueryError(f"unknown adapter method {self.method!r}; choose one of {', '.join(METHODS)}")

    @property
    def dim(self) -> int:
        return int(self.matrix.shape[1] - 1 if self.method == CLASS_DIRECTION else self.matrix.shape[0])

    def apply(self, queries: np.ndarray) -> np.ndarray:
        """Adapted, L2-normalised query rows (float32); a 1-d query stays 1-d."""
        q = np.asarray(queries, dtype=np.float32)
        if q.shape[-1] != self.dim:
            raise QueryError(f"query vectors have dim {q.shape[-1]}, the adapter {self.dim}")
        if self.method == CLASS_DIRECTION:
            return toward_classes(q, self.matrix[:, :-1], self.matrix[:, -1], self.strength)
        return adapt_queries(q, self.matrix)

    def info(self) -> dict[str, Any]:
        """What `pixseek info --json` shows as "adapter"."""
        return {
            "method": self.method,
            "trained_on": self.trained_on,
            "classes": list(self.classes),
            "created": self.created,
        }
