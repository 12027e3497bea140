"""Query terms as callers write them (as_terms) and combine_terms' edge cases: weights, shapes, precision."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from pixseek.errors import QueryError
from pixseek.search import as_terms, combine_terms


def test_missing_term_is_no_term() -> None:
    assert as_terms(None) == []


def test_bare_value_weighs_one() -> None:
    assert as_terms("a red car") == [("a red car", 1.0)]


def test_value_weight_pair_keeps_its_weight_as_a_float() -> None:
    ((value, weight),) = as_terms((Path("cat.jpg"), 3))
    assert value == Path("cat.jpg")
    assert weight == 3.0 and isinstance(weight, float)


def test_list_mixes_bare_values_and_pairs_in_order() -> None:
    assert as_terms(["cat", ("dog", 0.5), None, ["owl", ("fox", 2)]]) == [
        ("cat", 1.0),
        ("dog", 0.5),
        ("owl", 1.0),
        ("fox", 2.0),
    ]


def test_tuples_that_are_not_value_weight_pairs_are_values() -> None:
    """Only a 2-tuple ending in a number is (value, weight); anything else is one value of weight 1."""
    assert as_terms(("a", 2.0, 3.0)) == [(("a", 2.0, 3.0), 1.0)]
    assert as_terms(("a", "b")) == [(("a", "b"), 1.0)]


def test_a_vector_whose_second_entry_is_a_number_is_still_one_value() -> None:
    """A numpy row (e.g. an embedding passed as a term) must not be read as (value, weight)."""
    vector = np.array([0.25, 0.5])
    ((value, weight),) = as_terms(vector)
    assert value is vector and weight == 1.0


def test_a_boolean_weight_is_refused_and_named() -> None:
    with pytest.raises(QueryError, match=r"^a term weight must be a number, got True$"):
        as_terms(("cat", True))


@pytest.mark.parametrize(
    ("positive", "negative", "message"),
    [
        ([], [], "a search needs at least one positive term (an image, a text or a like: --like, like=)"),
        (
            [],
            [(np.ones(2), 1.0)],
            "terms to avoid (--minus-*, minus_*=) need a positive term (an image, a text or a like) to "
            "subtract from; with relevant marks alone (--more, positive=), mark what to avoid as irrelevant "
            "(--less, negative=)",
        ),
        (
            [(np.ones(2), 1.0)],
            [(np.ones(2), 1.0)],
            "the query terms cancel each other out; change the terms or their weights",
        ),
    ],
)
def test_refusals_say_exactly_what_is_wrong(positive: list, negative: list, message: str) -> None:
    """These messages reach the user verbatim (CLI stderr, web 400 body)."""
    with pytest.raises(QueryError, match=f"^{re.escape(message)}$"):
        combine_terms(positive, negative)


def test_a_zero_vector_term_is_ignored_not_turned_into_nan() -> None:
    q = combine_terms([(np.zeros(3), 1.0), (np.array([0.0, 2.0, 0.0]), 1.0)])
    np.testing.assert_array_equal(q, np.array([0.0, 1.0, 0.0], dtype=np.float32))


def test_a_row_shaped_term_vector_is_flattened() -> None:
    """Embedders return (1, dim) for one input; such a row is the same term as its flat vector.

    (Only after the first term: the dimension is taken as len() of the first term's vector.)
    """
    q = combine_terms([(np.array([1.0, 0.0]), 1.0), (np.array([[0.0, 1.0]]), 1.0)])
    np.testing.assert_allclose(q, [np.sqrt(0.5), np.sqrt(0.5)], rtol=1e-6)


def test_half_precision_terms_are_combined_at_full_precision() -> None:
    """float16 vectors (as stored in the catalog) are upcast before normalising, not after."""
    q = combine_terms([(np.array([1.0, 3.0], dtype=np.float16), 1.0)])
    expected = np.array([1.0, 3.0]) / np.sqrt(10.0)  # by hand: |(1, 3)| = sqrt(10)
    np.testing.assert_allclose(q, expected, rtol=1e-6)


def test_only_a_sum_below_one_millionth_counts_as_cancelled() -> None:
    """The refusal threshold is |sum| < 1e-6: a single term weighted exactly 1e-6 is still a query."""
    q = combine_terms([(np.array([0.0, 5.0]), 1e-6)])
    np.testing.assert_array_equal(q, np.array([0.0, 1.0], dtype=np.float32))
