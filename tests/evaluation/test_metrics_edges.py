"""Metric edge cases: classes absent from the data, class order, ties, small sets, defaults, dtype.

Expected numbers are worked by hand in the comments, or (for random tie-heavy sets) by a plain-Python
reading of the definitions in evaluation/metrics.py's docstring.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

from pixseek.evaluation.metrics import classification_scores, retrieval_scores


def test_a_class_absent_from_both_lists_still_counts_in_the_macro_average() -> None:
    """`classes` is the label set: a class with no samples and no predictions scores 0, not nothing."""
    s = classification_scores(["a", "a", "b"], ["a", "b", "b"], classes=["a", "b", "c"])
    # a: P 1, R 1/2, F1 2/3; b: P 1/2, R 1, F1 2/3; c: 0, 0, 0 (zero_division=0)
    assert s.summary["macro_precision"] == pytest.approx((1 + 0.5 + 0) / 3)
    assert s.summary["macro_recall"] == pytest.approx((0.5 + 1 + 0) / 3)
    assert s.summary["macro_f1"] == pytest.approx((2 / 3 + 2 / 3 + 0) / 3)
    assert s.per_class["c"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert s.confusion == [[1, 1, 0], [0, 1, 0], [0, 0, 0]]
    assert s.classes == ["a", "b", "c"]


def test_the_confusion_matrix_follows_the_given_class_order() -> None:
    s = classification_scores(["a", "b", "c"], ["b", "b", "c"], classes=["c", "b", "a"])
    # rows/columns c, b, a: c->c, b->b, a->b
    assert s.confusion == [[1, 0, 0], [0, 1, 0], [0, 1, 0]]
    assert s.classes == ["c", "b", "a"]


def test_a_never_predicted_class_gives_no_warning() -> None:
    """zero_division=0 is deliberate: an evaluation report must not spray UndefinedMetricWarning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = classification_scores(["a", "b"], ["a", "a"], classes=["a", "b"])
    assert s.per_class["b"]["precision"] == 0.0


def test_retrieval_scores_serialise_by_field_name() -> None:
    vectors = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]], dtype=np.float32)
    scores = retrieval_scores(vectors, ["a", "a", "b", "b"], k=1)
    # each item's nearest other item is its twin: everything is perfect
    assert scores.to_dict() == {"precision_at_10": 1.0, "recall_at_1": 1.0, "map_at_10": 1.0, "queries": 4}


def test_two_items_are_enough() -> None:
    r = retrieval_scores(np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32), ["a", "a"])
    assert (r.precision_at_10, r.recall_at_1, r.map_at_10, r.queries) == (1.0, 1.0, 1.0, 2)


def test_one_relevant_item_found_first_is_a_perfect_average_precision() -> None:
    """AP divides by min(k, R): with R = 1 and the one relevant item at rank 1, AP = 1 (k = 2 here)."""
    angles = np.deg2rad([0, 10, 100])
    vectors = np.stack([np.cos(angles), np.sin(angles)], axis=1).astype(np.float32)
    r = retrieval_scores(vectors, ["a", "a", "b"])  # b has no other member: not a query
    assert r.queries == 2 and r.map_at_10 == pytest.approx(1.0)
    assert r.precision_at_10 == pytest.approx(0.5)  # k = min(10, 2) = 2; one hit of two


def test_default_k_is_ten() -> None:
    """12 items, two opposite clusters of 6: each query has 5 relevant items at score 1."""
    vectors = np.array([[1.0, 0.0]] * 6 + [[-1.0, 0.0]] * 6, dtype=np.float32)
    r = retrieval_scores(vectors, ["a"] * 6 + ["b"] * 6)
    assert r.precision_at_10 == pytest.approx(5 / 10)  # not 5 / 11
    assert r.recall_at_1 == 1.0 and r.map_at_10 == pytest.approx(1.0)


def test_ties_go_to_the_lower_index_even_past_the_first_rank() -> None:
    """Eight identical vectors, k = 5: every query's top 5 are the five lowest other indices.

    labels a b b b b a b b (a: R = 1, b: R = 5)
    q0: 1-5 -> rel 0 0 0 0 1: P 1/5, R@1 0, AP (1/5)/1 = 1/5
    q1..q4: 0 and three b's and 5 -> rel 0 1 1 1 0: P 3/5, R@1 0, AP (1/2 + 2/3 + 3/4)/5 = 23/60
    q5: 0-4 -> rel 1 0 0 0 0: P 1/5, R@1 1, AP 1
    q6, q7: 0-4 -> rel 0 1 1 1 1: P 4/5, R@1 0, AP (1/2 + 2/3 + 3/4 + 4/5)/5 = 163/300
    """
    r = retrieval_scores(np.ones((8, 3), dtype=np.float32), list("abbbbabb"), k=5)
    assert r.precision_at_10 == pytest.approx((1 / 5 + 4 * 3 / 5 + 1 / 5 + 2 * 4 / 5) / 8)
    assert r.recall_at_1 == pytest.approx(1 / 8)
    assert r.map_at_10 == pytest.approx((1 / 5 + 4 * 23 / 60 + 1 + 2 * 163 / 300) / 8)


def test_float64_input_is_scored_in_float32() -> None:
    """Scores are float32 like stored vectors: x0.x1 and x0.x2 round to the same 1.0, a tie to index 1.

    In float32: q0 -> x1 (a, hit); q1 -> x0 (a, hit); q2 -> x0 (tie with x1, a, miss); q3 -> x2 (b, hit).
    """
    vectors = np.array([[1.0, 1e-9], [1.0, 0.0], [1.0, 1.0], [-1.0, 1.0]])
    r = retrieval_scores(vectors, ["a", "a", "b", "b"], k=1)
    assert r.recall_at_1 == pytest.approx(3 / 4)


def _reference(vectors: np.ndarray, labels: list[str], k: int) -> tuple[float, float, float, int]:
    """The module docstring's definitions, item by item in plain Python (float32 dot products)."""
    x = vectors.astype(np.float32)
    n = len(x)
    k = min(k, n - 1)
    precision, recall1, ap = [], [], []
    for q in range(n):
        others = [j for j in range(n) if j != q]
        scores = {j: float(x[q] @ x[j]) for j in others}
        ranked = sorted(others, key=lambda j: (-scores[j], j))[:k]
        rel = [labels[j] == labels[q] for j in ranked]
        relevant = sum(labels[j] == labels[q] for j in others)
        if relevant == 0:
            continue
        hits, total = 0, 0.0
        for rank, is_rel in enumerate(rel, start=1):
            hits += is_rel
            total += hits / rank if is_rel else 0.0
        precision.append(sum(rel) / k)
        recall1.append(float(rel[0]))
        ap.append(total / min(k, relevant))
    return float(np.mean(precision)), float(np.mean(recall1)), float(np.mean(ap)), len(precision)


@pytest.mark.parametrize("seed", range(6))
def test_matches_a_plain_reading_of_the_definitions_on_tie_heavy_data(seed: int) -> None:
    rng = np.random.default_rng(seed)
    vectors = np.round(rng.standard_normal((40, 3)) * 1.5) / 2  # coarse values: many exact ties
    labels = [str(v) for v in rng.integers(0, 5, 40)]
    r = retrieval_scores(vectors, labels, k=7, chunk=16)
    p, r1, m, queries = _reference(vectors, labels, 7)
    assert (r.precision_at_10, r.recall_at_1, r.map_at_10) == pytest.approx((p, r1, m))
    assert r.queries == queries


@pytest.mark.parametrize(
    ("vectors", "labels", "message"),
    [
        (np.ones((1, 2)), ["a"], "retrieval needs at least two items"),
        (np.eye(3), ["a", "b", "c"], "no query has a relevant item: every label occurs once"),
    ],
)
def test_unusable_sets_are_refused_by_name(vectors: np.ndarray, labels: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        retrieval_scores(vectors, labels)
