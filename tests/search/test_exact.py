"""Exact search must equal brute force: same scores, same order (ties broken by row index)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pixseek.search import ExactIndex
from pixseek.search.exact import top_k


def _unit(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    x = rng.standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _brute(
    matrix: np.ndarray, queries: np.ndarray, q: int, k: int, rows: np.ndarray | None = None
) -> list[int]:
    """Full sort of every score by (score descending, row index). The scores come from the same product of
    all queries at once as the index computes: BLAS rounds a one-row product differently in the last bit,
    which would reorder near-ties and test the arithmetic, not the selection."""
    candidates = np.arange(len(matrix)) if rows is None else rows
    scores = (queries @ matrix[candidates].T)[q]
    order = sorted(range(len(candidates)), key=lambda i: (-float(scores[i]), int(candidates[i])))
    return [int(candidates[i]) for i in order[:k]]


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 300),
    d=st.integers(1, 16),
    k=st.integers(1, 40),
    seed=st.integers(0, 2**16),
    quantise=st.booleans(),
)
def test_exact_matches_brute_force(n: int, d: int, k: int, seed: int, quantise: bool) -> None:
    rng = np.random.default_rng(seed)
    matrix = _unit(rng, n, d)
    if quantise:  # coarse values create many exact ties
        matrix = np.round(matrix * 2) / 2
    queries = _unit(rng, 3, d)
    scores, idx = ExactIndex(matrix).search(queries, k)
    for q in range(3):
        expected = _brute(matrix, queries, q, k)
        assert idx[q, : len(expected)].tolist() == expected
        expected_scores = matrix[expected] @ queries[q]
        np.testing.assert_allclose(scores[q, : len(expected)], expected_scores, rtol=1e-5, atol=1e-6)
        assert (idx[q, len(expected) :] == -1).all()
        assert np.isneginf(scores[q, len(expected) :]).all()


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 200), k=st.integers(1, 20), seed=st.integers(0, 2**16), keep=st.floats(0.0, 1.0))
def test_restricted_rows_match_brute_force(n: int, k: int, seed: int, keep: float) -> None:
    rng = np.random.default_rng(seed)
    matrix = _unit(rng, n, 8)
    rows = np.flatnonzero(rng.random(n) < keep).astype(np.int64)
    query = _unit(rng, 1, 8)
    _, idx = ExactIndex(matrix).search(query, k, rows=rows)
    expected = _brute(matrix, query, 0, k, rows)
    assert idx[0, : len(expected)].tolist() == expected
    assert set(idx[0].tolist()) - {-1} <= set(rows.tolist())


def test_empty_index_returns_padding() -> None:
    scores, idx = top_k(np.zeros((2, 0), np.float32), 3)
    assert (idx == -1).all() and np.isneginf(scores).all()


@pytest.mark.parametrize("k", [7, 8, 100])
def test_k_at_least_n_returns_every_row(k: int) -> None:
    matrix = _unit(np.random.default_rng(1), 7, 4)
    _, idx = ExactIndex(matrix).search(matrix[:1], k)
    assert idx[0, 0] == 0
    assert sorted(i for i in idx[0].tolist() if i >= 0) == list(range(7))
