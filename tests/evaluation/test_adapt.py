"""The query adapter's trainer: its gradient against finite differences, early stopping, and its errors."""

from __future__ import annotations

import numpy as np
import pytest

from pixseek.errors import QueryError
from pixseek.evaluation import adapt
from pixseek.evaluation.adapt import train_query_map


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_the_gradient_matches_finite_differences() -> None:
    rng = np.random.default_rng(0)
    x = _unit(rng.standard_normal((12, 5))).astype(np.float64)
    y = rng.integers(0, 3, 12)
    centres = _unit(rng.standard_normal((3, 5)))
    a = 0.1 * rng.standard_normal((5, 5))
    grad = adapt._gradient(a, x, y, centres)
    step = 1e-6
    numeric = np.zeros_like(a)
    for i in range(5):
        for j in range(5):
            up, down = a.copy(), a.copy()
            up[i, j] += step
            down[i, j] -= step
            numeric[i, j] = (adapt.loss(up, x, y, centres) - adapt.loss(down, x, y, centres)) / (2 * step)
    np.testing.assert_allclose(grad, numeric, rtol=1e-4, atol=1e-7)


def test_training_lowers_the_validation_loss_and_keeps_the_best_map(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(1)
    centres = rng.standard_normal((4, 16))
    labels = rng.integers(0, 4, 400)
    x = _unit(centres[labels] + 2.0 * rng.standard_normal((400, 16))).astype(np.float32)
    names = [f"class{c}" for c in labels]
    trained = train_query_map(x, names, seed=0)
    assert trained.classes == ("class0", "class1", "class2", "class3")
    assert trained.trained_on == 400 and trained.matrix.shape == (16, 16)
    assert 1 <= trained.epochs <= 300  # MAX_EPOCHS
    monkeypatch.setattr(adapt, "MAX_EPOCHS", 1)  # one small step from the identity map
    one_step = train_query_map(x, names, seed=0)
    assert 0 < np.abs(one_step.matrix).max() < np.abs(trained.matrix).max()
    assert trained.validation_loss < one_step.validation_loss


@pytest.mark.parametrize(
    "labels",
    [["a", "a", "a"], ["a", "a", "b"]],  # one class; a second class with a single image
)
def test_fewer_than_two_classes_of_two_images_is_a_clear_error(labels: list[str]) -> None:
    x = _unit(np.random.default_rng(2).standard_normal((len(labels), 4)))
    with pytest.raises(QueryError, match="at least two labelled folders with two images each"):
        train_query_map(x, labels)


def test_the_adaptation_block_measures_frozen_retrieval_on_held_out_images() -> None:
    from sklearn.model_selection import train_test_split

    from pixseek.evaluation.adaptation import compare
    from pixseek.evaluation.metrics import retrieval_scores

    rng = np.random.default_rng(3)
    centres = rng.standard_normal((4, 8))
    y = np.repeat(np.array(["a", "b", "c", "d"], dtype=object), 10)
    x = _unit(centres[[ord(c) - ord("a") for c in y]] + 1.5 * rng.standard_normal((40, 8))).astype(np.float32)
    block = compare(x, list(y), seed=0)
    _, test = train_test_split(np.arange(40), test_size=0.5, stratify=y, random_state=0)
    held_out = retrieval_scores(x[test], list(y[test]), k=10)
    assert block["seen"]["frozen"] == {
        "precision_at_10": round(held_out.precision_at_10, 4),
        "map_at_10": round(held_out.map_at_10, 4),
    }
    assert block["train_images"] == 20 and block["classes"] == 4
