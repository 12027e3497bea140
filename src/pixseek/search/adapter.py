"""A query adapter: a residual linear map applied to query vectors only, so nothing stored changes.

score(q, x) = <normalise(q + q A), x> over the frozen image vectors. Chosen by measurement
(benchmarks/adapt_study.py, docs/results.md) over a map of both sides: it gained more on seen classes at
the same cost on unseen ones, and since candidates keep their frozen vectors, every index (exact, FAISS,
the compressed one, an older index plus a delta) serves it as it is, images indexed later are covered
at once, and turning it off is just not applying it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from pixseek.errors import QueryError


def adapt_queries(queries: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """normalise(q + q A) per row, float32: the map itself, for search and for its evaluation alike."""
    u = queries + queries @ matrix
    return (u / np.maximum(np.linalg.norm(u, axis=-1, keepdims=True), 1e-12)).astype(np.float32)


@dataclass(frozen=True)
class QueryAdapter:
    """A trained map over one model's vectors; `matrix` is A in normalise(q + q A)."""

    matrix: np.ndarray
    method: str
    classes: tuple[str, ...]
    trained_on: int
    created: str

    @property
    def dim(self) -> int:
        return int(self.matrix.shape[0])

    def apply(self, queries: np.ndarray) -> np.ndarray:
        """Adapted, L2-normalised query rows (float32); a 1-d query stays 1-d."""
        q = np.asarray(queries, dtype=np.float32)
        if q.shape[-1] != self.dim:
            raise QueryError(f"query vectors have dim {q.shape[-1]}, the adapter {self.dim}")
        return adapt_queries(q, self.matrix)

    def info(self) -> dict[str, Any]:
        """What `pixseek info --json` shows as "adapter"."""
        return {
            "method": self.method,
            "trained_on": self.trained_on,
            "classes": list(self.classes),
            "created": self.created,
        }
