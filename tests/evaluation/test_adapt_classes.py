"""The class adapters (class-posterior, class-direction): formulas worked by hand, the trainer, storage."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from pixseek.catalog.adapter_table import AdapterRecord
from pixseek.errors import QueryError
from pixseek.evaluation.adapt_classes import train_classes
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


def test_class_posterior_scores_the_cosine_of_vectors_extended_by_their_posteriors_worked_by_hand() -> None:
    # W rows (1, 0) and (0, 1), biases 0 and ln 3, strength 0.5. The query (1, 0): logits 1 and ln 3,
    # softmax (0.4754, 0.5246), normalised (0.6714, 0.7410). A candidate (0, 1): logits 0 and 1 + ln 3,
    # softmax (1 / (1 + 3e), 3e / (1 + 3e)) = (0.1092, 0.8908), normalised (0.1217, 0.9926).
    # Score: (<q, x> + 0.25 <p(q), p(x)>) / 1.25 = (0 + 0.25 * (0.0817 + 0.7355)) / 1.25 = 0.16344.
    # The query itself: (1 + 0.25 * 1) / 1.25 = 1.
    matrix = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, np.log(3.0)]], dtype=np.float32)
    adapter = QueryAdapter(matrix, "class-posterior", ("a", "b"), 10, "", strength=0.5)
    assert adapter.reranks and adapter.dim == 2
    np.testing.assert_allclose(adapter.apply(np.array([3.0, 0.0])), [1.0, 0.0])  # normalised, not moved
    got = adapter.scores(np.array([1.0, 0.0]), np.array([[0.0, 1.0], [1.0, 0.0]]))
    np.testing.assert_allclose(got, [0.16344, 1.0], atol=1e-4)
    # evaluation scores rows against queries the same way
    rows = adapter.both_sides(np.array([[0.0, 1.0], [1.0, 0.0]]))
    np.testing.assert_allclose(rows @ adapter.queries(np.array([[1.0, 0.0]]))[0], [0.16344, 1.0], atol=1e-4)
    query_only = QueryAdapter(matrix, "class-direction", ("a", "b"), 10, "", strength=0.4)
    assert not query_only.reranks
    np.testing.assert_allclose(
        query_only.scores(np.array([1.0, 0.0]), np.eye(2)), [0.9738, 0.2275], atol=1e-4
    )


def test_training_learns_the_classes_and_lifts_held_out_retrieval() -> None:
    from pixseek.evaluation.metrics import retrieval_scores

    rng = np.random.default_rng(4)
    centres = rng.standard_normal((5, 24))
    labels = np.repeat(np.arange(5), 80)
    x = _unit(centres[labels] + 2.5 * rng.standard_normal((400, 24))).astype(np.float32)
    names = [f"c{c}" for c in labels]
    train, test = np.arange(0, 400, 2), np.arange(1, 400, 2)
    trained = train_classes(x[train], [names[i] for i in train], method="class-direction")
    assert trained.classes == ("c0", "c1", "c2", "c3", "c4") and trained.trained_on == 200
    assert trained.matrix.shape == (5, 25) and trained.method == "class-direction"
    assert trained.strength == 0.4  # the documented default (README, docs/results.md)
    adapter = as_adapter(trained)
    held = [names[i] for i in test]
    frozen = retrieval_scores(x[test], held, k=10).map_at_10
    adapted = retrieval_scores(x[test], held, k=10, queries=adapter.apply(x[test])).map_at_10
    assert adapted > frozen + 0.02  # images the regression never saw
    both = as_adapter(train_classes(x[train], [names[i] for i in train]))
    assert both.method == "class-posterior" and both.strength == 0.5
    rows = both.both_sides(x[test])
    assert retrieval_scores(rows, held, k=10, queries=both.queries(x[test])).map_at_10 > frozen + 0.02


def test_two_classes_keep_one_weight_row_each() -> None:
    rng = np.random.default_rng(5)
    x = _unit(np.r_[rng.normal(1, 1, (20, 3)), rng.normal(-1, 1, (20, 3))]).astype(np.float32)
    trained = train_classes(x, ["a"] * 20 + ["b"] * 20, method="class-direction")
    assert trained.matrix.shape == (2, 4)
    # the rows are opposite, so the two softmax logits differ by the binary decision value
    np.testing.assert_allclose(trained.matrix[0], -trained.matrix[1], rtol=1e-6)
    toward_a = as_adapter(trained).apply(x[:20]) @ _unit(np.ones(3))
    assert np.mean(toward_a) > np.mean(x[:20] @ _unit(np.ones(3)))  # class a sits toward (1, 1, 1)


@pytest.mark.parametrize("method", ["class-posterior", "class-direction", "query-residual"])
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


def test_the_adaptation_block_scores_class_posterior_on_both_sides() -> None:
    """eval --adapt's seen figure for class-posterior, by hand: the regression trained as `compare` trains
    it (the same split), then leave-one-out mAP@10 over [x, s p(x)] rows, written out here."""
    from sklearn.model_selection import train_test_split

    from pixseek.evaluation.adaptation import compare

    rng = np.random.default_rng(8)
    centres = rng.standard_normal((4, 8))
    y = np.repeat(np.array(["a", "b", "c", "d"], dtype=object), 12)
    x = _unit(centres[[ord(c) - ord("a") for c in y]] + 1.2 * rng.standard_normal((48, 8))).astype(np.float32)
    block = compare(x, list(y), seed=0)
    assert block["method"] == "class-posterior"
    train, test = train_test_split(np.arange(48), test_size=0.5, stratify=y, random_state=0)
    trained = train_classes(x[train], list(y[train]), seed=0)
    w, b, s = trained.matrix[:, :-1], trained.matrix[:, -1], trained.strength
    logits = x[test] @ w.T + b
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= np.linalg.norm(p, axis=1, keepdims=True)
    rows = np.hstack([x[test], s * p])
    scores = rows @ rows.T
    np.fill_diagonal(scores, -np.inf)
    ap = []
    for i in range(len(test)):
        hits = y[test][np.argsort(-scores[i], kind="stable")[:10]] == y[test][i]
        ap.append((np.cumsum(hits) / np.arange(1, 11) * hits).sum() / min(10, 5))  # 5 others per class
    assert block["seen"]["adapted"]["map_at_10"] == pytest.approx(np.mean(ap), abs=1e-4)
    assert block["seen"]["adapted"]["map_at_10"] != block["seen"]["frozen"]["map_at_10"]
