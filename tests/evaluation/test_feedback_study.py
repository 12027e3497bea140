"""The simulated feedback user, on data whose every figure can be worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from pixseek.evaluation import feedback


def _two_tight_classes(per_class: int = 12, dim: int = 8) -> tuple[np.ndarray, list[str]]:
    """Two classes around orthogonal centres, each member within a hair of its centre: every image is
    nearer to all of its own class than to any of the other."""
    rng = np.random.default_rng(0)
    rows, labels = [], []
    for c, name in enumerate(["a", "b"]):
        centre = np.eye(dim)[c]
        for _ in range(per_class):
            x = centre + 0.01 * rng.standard_normal(dim)
            rows.append(x / np.linalg.norm(x))
            labels.append(name)
    return np.array(rows, dtype=np.float32), labels


@pytest.mark.parametrize("method", ["maxsim", "rocchio", "svm"])
def test_rounds_on_two_tight_classes_of_twelve(method: str) -> None:
    """Each query has 11 relevant images. Round 0: its top 10 are all relevant. Round 1: the 10 marked
    relevant come first (P@10 1.0); the best 10 unseen hold the 11th relevant image and 9 others (0.1).
    Round 2: 11 relevant marks fill the top 10 (1.0), and nothing relevant is left unseen (0.0). Without
    feedback, ranks 11-20 hold the 11th relevant image (0.1), ranks 21-30 none (0.0)."""
    vectors, labels = _two_tight_classes()
    result = feedback.simulate(vectors, labels, method=method)  # type: ignore[arg-type]
    assert result["queries"] == 24 and result["k"] == 10 and result["method"] == method
    assert result["rounds"] == [
        {"precision_at_10": 1.0, "residual_precision_at_10": 1.0},
        {"precision_at_10": 1.0, "residual_precision_at_10": 0.1},
        {"precision_at_10": 1.0, "residual_precision_at_10": 0.0},
    ]
    assert result["without_feedback"] == [
        {"residual_precision_at_10": 1.0},
        {"residual_precision_at_10": 0.1},
        {"residual_precision_at_10": 0.0},
    ]


def test_compare_reports_the_default_and_every_method() -> None:
    vectors, labels = _two_tight_classes()
    block = feedback.compare(vectors, labels)
    assert block["method"] == "maxsim"
    assert set(block["compared"]) == {"maxsim", "rocchio", "svm"}
    assert block["rounds"] == block["compared"]["maxsim"]["rounds"]


def test_large_sets_sample_queries_and_compute_columns_on_demand(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Past FULL_MATRIX_LIMIT the figures come from a fixed sample of queries; on data where every query
    scores the same, the sample gives the same figures as all queries."""
    vectors, labels = _two_tight_classes()
    everyone = feedback.simulate(vectors, labels)
    monkeypatch.setattr(feedback, "FULL_MATRIX_LIMIT", 10)
    monkeypatch.setattr(feedback, "SAMPLED_QUERIES", 7)
    sampled = feedback.simulate(vectors, labels)
    assert sampled["queries"] == 7
    assert sampled["rounds"] == everyone["rounds"]


def test_marked_relevant_images_rank_first_even_when_the_method_scores_them_lower() -> None:
    """Rocchio moves the query to e0 + 0.75 e1: an unmarked image right there outscores the relevant mark
    e1 itself (cosine 1.0 against 0.6), yet the simulated list shows the marked image first."""
    moved = np.array([1.0, 0.75, 0.0]) / 1.25
    v = np.array([[1, 0, 0], [0, 1, 0], moved, [0, 0, 1]], dtype=np.float32)  # query, mark, unmarked, other
    sims = feedback._Similarities(v)
    scores = feedback._rescore("rocchio", v=v, sims=sims, q=0, positive=[1], negative=[])
    assert int(np.argmax(np.delete(scores, 0))) + 1 == 1
