"""The one interface every vector index implements, so callers never care which one they hold."""

from __future__ import annotations

from typing import Protocol

import numpy as np


class VectorIndex(Protocol):
    """Inner-product top-k over a fixed set of L2-normalised rows."""

    def __len__(self) -> int: ...

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(Q, D) float32 -> scores (Q, k) float32 and row indices (Q, k) int64, best first.

        When fewer than k rows exist, the tail holds index -1 and score -inf.
        """
        ...
