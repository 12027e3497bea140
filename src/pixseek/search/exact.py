"""Exact top-k by one matrix product and argpartition: the reference every ANN is measured against."""

from __future__ import annotations

import numpy as np


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Best k columns of each row of `scores`, by score then by index; padded with -1 / -inf.

    Ties are common (identical copies share a vector), so the cut at the k-th score keeps every
    tied column and then takes the lowest indices: results never depend on partition order.
    """
    q, n = scores.shape
    out_scores = np.full((q, k), -np.inf, dtype=np.float32)
    out_idx = np.full((q, k), -1, dtype=np.int64)
    kk = min(k, n)
    for row in range(q if kk else 0):
        s = scores[row]
        if kk < n:
            threshold = -np.partition(-s, kk - 1)[kk - 1]
            cand = np.flatnonzero(s >= threshold)
        else:
            cand = np.arange(n)
        best = cand[np.lexsort((cand, -s[cand]))[:kk]]
        out_idx[row, :kk] = best
        out_scores[row, :kk] = s[best]
    return out_scores, out_idx


class ExactIndex:
    """Brute force over an in-memory float32 matrix; well under a millisecond per query at N = 10k."""

    def __init__(self, vectors: np.ndarray) -> None:
        self._vectors = np.ascontiguousarray(vectors, dtype=np.float32)

    def __len__(self) -> int:
        return len(self._vectors)

    @property
    def vectors(self) -> np.ndarray:
        return self._vectors

    def search(
        self, queries: np.ndarray, k: int, *, rows: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k over all rows, or only over `rows` (sorted row indices, e.g. from a filter)."""
        queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        matrix = self._vectors if rows is None else self._vectors[rows]
        scores, idx = top_k(queries @ matrix.T, k)
        if rows is not None and len(rows):
            idx = np.where(idx >= 0, rows[np.maximum(idx, 0)], -1)
        return scores, idx
