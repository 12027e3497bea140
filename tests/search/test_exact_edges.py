"""Exact top-k contracts beyond ranking: dtypes, padding under a row filter, empty inputs, query rounding."""

from __future__ import annotations

import numpy as np

from pixseek.search import ExactIndex
from pixseek.search.exact import top_k


def test_results_are_float32_scores_and_int64_ids() -> None:
    scores, idx = top_k(np.array([[0.5, 0.25, 1.0]], dtype=np.float64), 2)
    assert scores.dtype == np.float32 and idx.dtype == np.int64
    assert idx.tolist() == [[2, 0]] and scores.tolist() == [[1.0, 0.5]]


def test_the_index_holds_a_float32_matrix_whatever_it_was_given() -> None:
    """float32 halves the memory of float64 input and is what FAISS takes."""
    index = ExactIndex(np.eye(3, dtype=np.float64))
    assert index.vectors.dtype == np.float32 and len(index) == 3


def test_padding_under_a_row_filter_is_minus_one() -> None:
    """Fewer allowed rows than k: the tail is padded with id -1 and score -inf, as without a filter."""
    matrix = np.eye(4, dtype=np.float32)
    scores, idx = ExactIndex(matrix).search(matrix[2], 3, rows=np.array([1, 2], dtype=np.int64))
    assert idx.tolist() == [[2, 1, -1]]
    assert scores[0, :2].tolist() == [1.0, 0.0] and np.isneginf(scores[0, 2])


def test_no_queries_against_an_empty_index() -> None:
    scores, idx = top_k(np.zeros((0, 0), dtype=np.float32), 3)
    assert scores.shape == idx.shape == (0, 3)


def test_a_float64_query_ranks_exactly_like_its_float32_rounding() -> None:
    """Queries are rounded to float32 like the matrix, so a tie stays a tie (lower row first)."""
    matrix = np.eye(2, dtype=np.float32)
    query = np.array([1.0, 1.0 + 1e-12])  # equal once rounded to float32
    _, idx64 = ExactIndex(matrix).search(query, 2)
    _, idx32 = ExactIndex(matrix).search(query.astype(np.float32), 2)
    assert idx64.tolist() == idx32.tolist() == [[0, 1]]
