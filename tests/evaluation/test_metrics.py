"""Every metric against a hand computation on small fixed sets."""

from __future__ import annotations

import numpy as np
import pytest

from pixseek.evaluation.metrics import classification_scores, retrieval_scores

# true a a a b b c / predicted a a b b c c  (worked by hand below)
Y_TRUE = ["a", "a", "a", "b", "b", "c"]
Y_PRED = ["a", "a", "b", "b", "c", "c"]


def test_classification_scores_match_hand_computation() -> None:
    s = classification_scores(Y_TRUE, Y_PRED, classes=["a", "b", "c"])
    # a: TP 2, FP 0, FN 1 -> P 1, R 2/3, F1 0.8; b: TP 1, FP 1, FN 1 -> 0.5, 0.5, 0.5;
    # c: TP 1, FP 1, FN 0 -> P 0.5, R 1, F1 2/3. Supports 3, 2, 1.
    expected = {
        "accuracy": 4 / 6,
        "macro_precision": (1 + 0.5 + 0.5) / 3,
        "macro_recall": (2 / 3 + 0.5 + 1) / 3,
        "macro_f1": (0.8 + 0.5 + 2 / 3) / 3,
        "weighted_precision": (3 * 1 + 2 * 0.5 + 1 * 0.5) / 6,
        "weighted_recall": (3 * 2 / 3 + 2 * 0.5 + 1 * 1) / 6,
        "weighted_f1": (3 * 0.8 + 2 * 0.5 + 1 * 2 / 3) / 6,
    }
    assert s.summary == pytest.approx(expected)
    assert s.per_class["a"] == pytest.approx({"precision": 1.0, "recall": 2 / 3, "f1": 0.8, "support": 3})
    assert s.per_class["c"] == pytest.approx({"precision": 0.5, "recall": 1.0, "f1": 2 / 3, "support": 1})
    assert s.confusion == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]


def test_class_never_predicted_scores_zero_precision() -> None:
    s = classification_scores(["a", "b"], ["a", "a"], classes=["a", "b"])
    assert s.per_class["b"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert s.summary["macro_precision"] == pytest.approx(0.25)


def _circle(degrees: list[float]) -> np.ndarray:
    rad = np.deg2rad(degrees)
    return np.stack([np.cos(rad), np.sin(rad)], axis=1).astype(np.float32)


# Unit vectors at these angles; cosine similarity orders neighbours by angular distance.
ANGLES = [0, 10, 100, 25, 115, 210]
LABELS = ["a", "a", "a", "b", "b", "b"]
# Neighbours of each query, nearest first (by hand), and whether each shares the query's label:
# q0: 1 3 2 4 5 -> 1 0 1 0 0     q1: 0 3 2 4 5 -> 1 0 1 0 0     q2: 4 3 1 0 5 -> 0 0 1 1 0
# q3: 1 0 2 4 5 -> 0 0 0 1 1     q4: 2 3 5 1 0 -> 0 1 1 0 0     q5: 4 2 0 1 3 -> 1 0 0 0 1


def test_retrieval_at_3_matches_hand_computation() -> None:
    r = retrieval_scores(_circle(ANGLES), LABELS, k=3)
    # P@3 per query 2/3 2/3 1/3 0 2/3 1/3; R@1 1 1 0 0 0 1;
    # AP@3 = sum(P@j * rel_j) / min(3, R=2): 5/6 5/6 1/6 0 7/12 1/2
    assert r.precision_at_10 == pytest.approx(4 / 9)
    assert r.recall_at_1 == pytest.approx(0.5)
    assert r.map_at_10 == pytest.approx(35 / 72)
    assert r.queries == 6


def test_retrieval_k_capped_at_other_items() -> None:
    r = retrieval_scores(_circle(ANGLES), LABELS, k=10)  # 5 other items, so k = 5
    assert r.precision_at_10 == pytest.approx(2 / 5)
    # AP@5 / min(5, 2): 5/6 5/6 5/12 13/40 7/12 7/10
    assert r.map_at_10 == pytest.approx(443 / 720)


def test_retrieval_ties_go_to_lower_index_and_singletons_are_not_queries() -> None:
    vectors = np.array([[1, 0], [1, 0], [1, 0], [0, 1]], dtype=np.float32)
    r = retrieval_scores(vectors, ["x", "y", "x", "z"], k=1)
    # q0: 1 and 2 tie, 1 (lower) wins -> miss; q2: 0 wins -> hit; y and z have no other member.
    assert r.queries == 2
    assert r.recall_at_1 == pytest.approx(0.5)


def test_retrieval_chunks_agree_with_one_pass() -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((50, 8)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    labels = [str(i % 4) for i in range(50)]
    assert retrieval_scores(x, labels, chunk=7) == retrieval_scores(x, labels, chunk=1000)


# AP@10 divides by min(10, R): the cases above all have R < 10, so they cannot tell min(10, R) from R.
# Below, R = 11 for the "a" queries. Identical vectors tie everywhere, so ranks follow the documented
# tie rule (lower index first) and every ranking can be read off the index order.


def _same_vector(n: int) -> np.ndarray:
    return np.tile(np.array([[1.0, 0.0]], np.float32), (n, 1))


def test_ap_at_10_divides_by_10_when_more_than_10_are_relevant() -> None:
    # 12 identical "a" (R = 11) and 2 identical "b" (R = 1), orthogonal to each other.
    vectors = np.concatenate([_same_vector(12), np.tile(np.array([[0.0, 1.0]], np.float32), (2, 1))])
    labels = ["a"] * 12 + ["b"] * 2
    r = retrieval_scores(vectors, labels, k=10)
    # a queries: the top 10 are 10 of the 11 other a's -> P@10 = 1, AP = (1/min(10, 11)) * 10 * 1 = 1
    #   (dividing by R = 11 would give 10/11 instead).
    # b queries: the other b is first (score 1 > 0), then 9 a's -> P@10 = 1/10, AP = (1/1) * 1 = 1.
    assert r.queries == 14
    assert r.map_at_10 == pytest.approx(1.0)
    assert r.precision_at_10 == pytest.approx((12 * 1 + 2 * 0.1) / 14)
    assert r.recall_at_1 == pytest.approx(1.0)


def test_ap_at_10_with_more_than_10_relevant_and_misses_in_the_top_10() -> None:
    labels = ["a", "a", "b"] + ["a"] * 10 + ["b"]  # a at 0, 1, 3..12 (R = 11); b at 2 and 13 (R = 1)
    r = retrieval_scores(_same_vector(14), labels, k=10)
    # Every score ties, so each query's top 10 is the first 10 other indices:
    # q0, q1: the b at index 2 is rank 2 -> rel 1 0 1 1 1 1 1 1 1 1
    #   AP = (1 + 2/3 + 3/4 + 4/5 + 5/6 + 6/7 + 7/8 + 8/9 + 9/10) / min(10, 11) = 19079/25200
    # q3..q12 (10 queries): b is rank 3 -> rel 1 1 0 1 1 1 1 1 1 1
    #   AP = (1 + 1 + 3/4 + 4/5 + 5/6 + 6/7 + 7/8 + 8/9 + 9/10) / 10 = 19919/25200
    #   (3/4 + ... + 9/10 = 14879/2520; 5/3 + that = 19079/2520; 2 + that = 19919/2520)
    # q2 (b): top 10 = 0, 1, 3..10, no b -> AP 0, P@10 0, R@1 0
    # q13 (b): top 10 = 0..9, the other b is rank 3 -> AP = (1/3) / min(10, 1) = 1/3, P@10 = 1/10
    assert r.queries == 14
    assert r.map_at_10 == pytest.approx((2 * 19079 / 25200 + 10 * 19919 / 25200 + 0 + 1 / 3) / 14)
    assert r.precision_at_10 == pytest.approx((12 * 9 / 10 + 0 + 1 / 10) / 14)
    assert r.recall_at_1 == pytest.approx(12 / 14)  # every a query's first hit is an a; neither b's


def test_a_query_with_no_relevant_item_is_left_out_of_every_mean() -> None:
    # The first case plus one "c" (R = 0) pointing away from both: a and b queries keep their rankings
    # (c scores 0 for a queries, below the a's; -1 for b queries, below everything).
    vectors = np.concatenate(
        [
            _same_vector(12),
            np.tile(np.array([[0.0, 1.0]], np.float32), (2, 1)),
            np.array([[0.0, -1.0]], np.float32),
        ]
    )
    r = retrieval_scores(vectors, ["a"] * 12 + ["b"] * 2 + ["c"], k=10)
    # Counting c's query (P@10 0, R@1 0, AP 0) would pull every mean down; it must not count.
    assert r.queries == 14
    assert r.map_at_10 == pytest.approx(1.0)
    assert r.precision_at_10 == pytest.approx((12 * 1 + 2 * 0.1) / 14)
    assert r.recall_at_1 == pytest.approx(1.0)


def test_no_query_with_a_relevant_item_is_an_error() -> None:
    with pytest.raises(ValueError, match="every label occurs once"):
        retrieval_scores(_same_vector(3), ["x", "y", "z"], k=10)
