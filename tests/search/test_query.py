"""Query algebra: weighted sums of positive and negative terms."""

from __future__ import annotations

import numpy as np
import pytest

from pixseek.errors import QueryError
from pixseek.search import combine_terms


def test_single_term_is_normalised() -> None:
    q = combine_terms([(np.array([3.0, 4.0]), 1.0)])
    np.testing.assert_allclose(q, [0.6, 0.8], rtol=1e-6)
    assert q.dtype == np.float32


def test_weights_and_negatives() -> None:
    a, b, c = np.eye(3)
    q = combine_terms([(a, 2.0), (b, 1.0)], [(c, 1.0)])
    expected = np.array([2.0, 1.0, -1.0]) / np.sqrt(6)
    np.testing.assert_allclose(q, expected, rtol=1e-6)


def test_terms_are_normalised_before_weighting() -> None:
    q = combine_terms([(np.array([10.0, 0.0]), 1.0), (np.array([0.0, 0.1]), 1.0)])
    np.testing.assert_allclose(q, [np.sqrt(0.5), np.sqrt(0.5)], rtol=1e-6)


@pytest.mark.parametrize(
    ("positive", "negative", "message"),
    [
        ([], [], "at least one positive"),
        ([(np.ones(2), 1.0)], [(np.ones(2), 1.0)], "cancel"),
        ([(np.ones(2), 0.0)], [], "positive numbers"),
        ([(np.ones(2), float("nan"))], [], "positive numbers"),
        ([(np.ones(2), -1.0)], [], "positive numbers"),
        ([(np.ones(2), 1.0), (np.ones(3), 1.0)], [], "dimension"),
    ],
)
def test_bad_queries(positive: list, negative: list, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        combine_terms(positive, negative)
