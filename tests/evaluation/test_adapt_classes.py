"""The class-direction adapter: its formula worked by hand, its trainer, and how it is stored."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from pixseek.catalog.adapter_table import AdapterRecord
from pixseek.errors import QueryError
from pixseek.evaluation.adapt_classes import train_class_directions
from pixseek.evaluation.adapters import as_adapter, train_adapter
from pixseek.search.adapter import QueryAdapter


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def test_a_query_moves_toward_the_weights_of_its_likely_classes_worked_by_hand() -> None:
    # W rows (1, 0) and (0, 1), biases 0 and ln 3; q = (1, 0): logits 1 and ln 3, so softmax is
    # (e / (e + 3), 3 / (e + 3)) = (0.4754, 0.5246); p W = that vector, normalised (0.6714, 0.7410);
    # q + 0.4 of it = (1.2686, 0.2964), normalised (0.9738, 0.2275).
    matrix = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, np.log(3.0)]], dtype=np.float32)
    adapter = QueryAdapter(matrix, "class-direction", ("a", "b"), 10, "", strength=0.4)
    assert adapter.dim == 2
    np.testing.assert_allclose(adapter.apply(np.array([1.0, 0.0])), [0.9738, 0.2275], atol=1e-4)
    # a query is normalised first, and a batch is row by row
    batch = adapter.apply(np.array([[2.0, 0.0], [0.0, 3.0]]))
    np.testing.assert_allclose(batch[0], [0.9738, 0.2275], atol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(batch, axis=1), 1.0, rtol=1e-6)
    with pytest.raises(QueryError, match="dim 3, the adapter 2"):
        adapter.apply(np.ones(3))


def test_training_learns_the_classes_and_lifts_held_out_retrieval() -> None:
    from pixseek.evaluation.metrics import retrieval_scores

    rng = np.random.default_rng(4)
    centres = rng.standard_normal((5, 24))
    labels = np.repeat(np.arange(5), 80)
    x = _unit(centres[labels] + 2.5 * rng.standard_normal((400, 24))).astype(np.float32)
    names = [f"c{c}" for c in labels]
    train, test = np.arange(0, 400, 2), np.arange(1, 400, 2)
    trained = train_class_directions(x[train], [names[i] for i in train])
    assert trained.classes == ("c0", "c1", "c2", "c3", "c4") and trained.trained_on == 200
    assert trained.matrix.shape == (5, 25) and trained.method == "class-direction"
    adapter = as_adapter(trained)
    held = [names[i] for i in test]
    frozen = retrieval_scores(x[test], held, k=10).map_at_10
    adapted = retrieval_scores(x[test], held, k=10, queries=adapter.apply(x[test])).map_at_10
    assert adapted > frozen + 0.02  # images the regression never saw


def test_two_classes_keep_one_weight_row_each() -> None:
    rng = np.random.default_rng(5)
    x = _unit(np.r_[rng.normal(1, 1, (20, 3)), rng.normal(-1, 1, (20, 3))]).astype(np.float32)
    trained = train_class_directions(x, ["a"] * 20 + ["b"] * 20)
    assert trained.matrix.shape == (2, 4)
    # the rows are opposite, so the two softmax logits differ by the binary decision value
    np.testing.assert_allclose(trained.matrix[0], -trained.matrix[1], rtol=1e-6)
    toward_a = as_adapter(trained).apply(x[:20]) @ _unit(np.ones(3))
    assert np.mean(toward_a) > np.mean(x[:20] @ _unit(np.ones(3)))  # class a sits toward (1, 1, 1)


@pytest.mark.parametrize("method", ["class-direction", "query-residual"])
def test_fewer_than_two_classes_of_two_images_is_a_clear_error_for_each_method(method: str) -> None:
    x = _unit(np.random.default_rng(6).standard_normal((3, 4)))
    with pytest.raises(QueryError, match="at least two labelled folders with two images each"):
        train_adapter(x, ["a", "a", "b"], method=method)
    with pytest.raises(QueryError, match="unknown adapter method 'pca'"):
        train_adapter(x, ["a", "a", "b"], method="pca")


def test_a_stored_adapter_reads_back_with_its_shape_and_strength() -> None:
    matrix = np.arange(12, dtype=np.float32).reshape(3, 4)
    record = AdapterRecord(
        "class-direction", "fp", ("a", "b", "c"), 9, "2026-11-30T00:00:00+00:00", matrix, 0.4
    )
    back = AdapterRecord.from_table(record.to_table())
    assert back is not None
    np.testing.assert_array_equal(back.matrix, matrix)
    assert back.strength == pytest.approx(0.4) and back.method == "class-direction"


def test_a_table_written_before_the_class_direction_method_still_reads() -> None:
    """Such a table has no `rows` or `strength` columns: a square matrix whose side is `dim`."""
    old = pa.table(
        {
            "method": ["query-residual"],
            "fingerprint": ["fp"],
            "classes": [["a", "b"]],
            "trained_on": [4],
            "created": ["2026-11-01T00:00:00+00:00"],
            "dim": pa.array([2], pa.int32()),
            "matrix": pa.array([[0.5, 0.0, 0.0, 0.5]], pa.list_(pa.float32())),
        }
    )
    back = AdapterRecord.from_table(old)
    assert back is not None and back.strength == 0.0
    np.testing.assert_array_equal(back.matrix, [[0.5, 0.0], [0.0, 0.5]])
