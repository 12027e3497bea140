"""Relevance feedback scoring: each method's formula, checked against hand-worked values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pixseek.errors import QueryError
from pixseek.search.feedback import check_method, combine, rocchio_vector, scores

E = np.eye(4, dtype=np.float32)  # four orthogonal unit vectors
NONE = np.zeros((0, 4), dtype=np.float32)


def test_rocchio_moves_the_query_by_the_classic_weights() -> None:
    moved = rocchio_vector(E[0], E[1:2], E[2:3])
    # 1.0 * e0 + 0.75 * e1 - 0.15 * e2, normalised by hand: |(1, 0.75, -0.15)| = sqrt(1.585)
    expected = np.array([1.0, 0.75, -0.15, 0.0]) / math.sqrt(1.585)
    np.testing.assert_allclose(moved, expected, rtol=1e-6)


def test_rocchio_without_a_query_is_the_mean_of_the_relevant_marks() -> None:
    moved = rocchio_vector(None, E[0:2], NONE)
    np.testing.assert_allclose(moved, [math.sqrt(0.5), math.sqrt(0.5), 0, 0], rtol=1e-6)


def test_marks_that_cancel_out_or_say_nothing_are_clear_errors() -> None:
    with pytest.raises(QueryError, match="the marks cancel out"):
        rocchio_vector(None, np.stack([E[0], -E[0]]), NONE)
    with pytest.raises(QueryError, match="needs a query or at least one image marked relevant"):
        rocchio_vector(None, NONE, E[0:1])


def test_maxsim_with_one_anchor_is_the_plain_similarity() -> None:
    candidates = np.array([[1, 0, 0, 0], [0.6, 0.8, 0, 0], [0, 0, 1, 0]], dtype=np.float32)
    np.testing.assert_allclose(scores("maxsim", candidates, E[0], NONE, NONE), [1.0, 0.6, 0.0], atol=1e-6)


def test_maxsim_softens_the_maximum_over_anchors() -> None:
    """Two anchors at the same similarity add temperature * ln 2 (0.05 * 0.6931) to it; one far anchor
    adds almost nothing."""
    candidate = np.array([[math.sqrt(0.5), math.sqrt(0.5), 0, 0]], dtype=np.float32)
    both = scores("maxsim", candidate, E[0], E[1:2], NONE)
    assert both[0] == pytest.approx(math.sqrt(0.5) + 0.05 * math.log(2), abs=1e-6)
    near_and_far = scores("maxsim", E[:1], E[0], E[2:3], NONE)
    assert near_and_far[0] == pytest.approx(1.0 + 0.05 * math.log(1 + math.exp(-1 / 0.05)), abs=1e-6)


def test_maxsim_subtracts_half_the_closeness_to_the_nearest_irrelevant_mark() -> None:
    candidates = np.array([[0, 0, 1, 0], [0, 0, 0, 1]], dtype=np.float32)  # the irrelevant mark itself; apart
    got = scores("maxsim", candidates, E[0], NONE, E[2:3])
    np.testing.assert_allclose(got, [0.0 - 0.5 * 1.0, 0.0 - 0.5 * 0.0], atol=1e-6)


def test_rocchio_scores_are_cosines_to_the_moved_query() -> None:
    rng = np.random.default_rng(0)
    candidates = rng.standard_normal((20, 4)).astype(np.float32)
    candidates /= np.linalg.norm(candidates, axis=1, keepdims=True)
    moved = np.array([1.0, 0.75, -0.15, 0.0]) / math.sqrt(1.585)
    got = scores("rocchio", candidates, E[0], E[1:2], E[2:3])
    np.testing.assert_allclose(got, candidates @ moved, atol=1e-6)
    unnormalised = combine("rocchio", candidates @ E[0], candidates @ E[1:2].T, candidates @ E[2:3].T)
    assert (
        np.argsort(-unnormalised).tolist() == np.argsort(-got).tolist()
    )  # the evaluation's form ranks alike


def test_svm_adds_a_learned_direction_only_with_both_kinds_of_mark() -> None:
    rng = np.random.default_rng(1)
    candidates = rng.standard_normal((30, 4)).astype(np.float32)
    candidates /= np.linalg.norm(candidates, axis=1, keepdims=True)
    only_relevant = scores("svm", candidates, E[0], E[1:2], NONE)
    np.testing.assert_allclose(only_relevant, scores("maxsim", candidates, E[0], E[1:2], NONE))
    both = scores("svm", candidates, E[0], E[1:2], E[2:4])
    plain = scores("maxsim", candidates, E[0], E[1:2], E[2:4])
    assert not np.allclose(both, plain)
    assert np.abs(both - plain).max() < 0.05 * 10  # a standardised nudge, not a new ranking from scratch


def test_nothing_to_score_from_is_a_clear_error() -> None:
    with pytest.raises(QueryError, match="needs a query or at least one image marked relevant"):
        scores("maxsim", E, None, NONE, E[:1])


def test_an_unknown_method_names_the_choices() -> None:
    with pytest.raises(
        QueryError, match=r"^unknown feedback method 'knn'; choose one of maxsim, rocchio, svm$"
    ):
        check_method("knn")
