"""The class adapters (class-posterior, class-direction): formulas worked by hand, the trainer, storage."""

from __future__ import annotations

import math

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
    query = adapter.query_side(np.array([1.0, 0.0]), np.array([[0.0, 1.0], [1.0, 0.0]]))
    np.testing.assert_allclose(rows @ query, [0.16344, 1.0], atol=1e-4)
    query_only = QueryAdapter(matrix, "class-direction", ("a", "b"), 10, "", strength=0.4)
    assert not query_only.reranks
    np.testing.assert_allclose(
        query_only.scores(np.array([1.0, 0.0]), np.eye(2)), [0.9738, 0.2275], atol=1e-4
    )


def test_training_learns_the_classes_and_lifts_held_out_retrieval() -> None:
    from pixseek.evaluation.adaptation import adapted_retrieval
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
    assert both.method == "class-posterior" and both.strength == pytest.approx(0.9)
    assert adapted_retrieval(x[test], held, both).map_at_10 > frozen + 0.02


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
    back = AdapterRecord.from_table(_older_table("query-residual", 2, [0.5, 0.0, 0.0, 0.5]))
    assert back is not None and back.strength == 0.0
    np.testing.assert_array_equal(back.matrix, [[0.5, 0.0], [0.0, 0.5]])


def _older_table(method: str, dim: int, matrix: list[float], **columns: pa.Array) -> pa.Table:
    """An adapter table as an earlier pixseek wrote it: the first columns, and `columns` of later ones."""
    return pa.table(
        {
            "method": [method],
            "fingerprint": ["fp"],
            "classes": [["a", "b"]],
            "trained_on": [4],
            "created": ["2026-11-01T00:00:00+00:00"],
            "dim": pa.array([dim], pa.int32()),
            "matrix": pa.array([matrix], pa.list_(pa.float32())),
            **columns,
        }
    )


def _plain_posterior(x: list[float], matrix: np.ndarray) -> list[float]:
    """normalise(softmax(x W^T + b)) in plain Python, for the expected values below."""
    norm = math.sqrt(sum(v * v for v in x))
    logits = [_dot(row[:-1], x) / norm + row[-1] for row in matrix.tolist()]
    top = max(logits)
    e = [math.exp(v - top) for v in logits]
    length = math.sqrt(sum(v * v for v in e))
    return [v / length for v in e]


def _plain_smoothed(own: list[float], others: list[list[float]], mix: float) -> list[float]:
    mixed = [(1 - mix) * o + mix * sum(n[c] for n in others) / len(others) for c, o in enumerate(own)]
    length = math.sqrt(sum(v * v for v in mixed))
    return [v / length for v in mixed]


def _dot(a: list[float], b: list[float]) -> float:
    return sum(u * v for u, v in zip(a, b, strict=True))


def _plain_cos(a: list[float], b: list[float]) -> float:
    return _dot(a, b) / math.sqrt(_dot(a, a) * _dot(b, b))


def test_class_posterior_smooths_each_posterior_over_its_nearest_candidates() -> None:
    """Expected scores from plain Python: each candidate's posterior mixed with the mean of its k nearest
    other candidates' (cosine), the query's with its k nearest candidates'; then (<q, x> + s^2 <p~, p~>)
    / (1 + s^2)."""
    rng = np.random.default_rng(11)
    matrix = rng.standard_normal((3, 5)).astype(np.float32)  # 3 classes over 4 dims, plus biases
    candidates = rng.standard_normal((7, 4)).astype(np.float32)
    query = rng.standard_normal(4).astype(np.float32)
    k, mix, s = 2, 0.4, 0.9
    adapter = QueryAdapter(
        matrix, "class-posterior", ("a", "b", "c"), 10, "", strength=s, neighbours=k, mix=mix
    )
    rows = candidates.astype(np.float64).tolist()
    p = [_plain_posterior(r, matrix.astype(np.float64)) for r in rows]

    def nearest(to: list[float], among: list[int]) -> list[int]:
        return sorted(among, key=lambda j: -_plain_cos(to, rows[j]))[:k]

    smooth = [
        _plain_smoothed(p[i], [p[j] for j in nearest(rows[i], [j for j in range(7) if j != i])], mix)
        for i in range(7)
    ]
    q = query.astype(np.float64).tolist()
    p_query = _plain_smoothed(
        _plain_posterior(q, matrix.astype(np.float64)), [p[j] for j in nearest(q, list(range(7)))], mix
    )
    expected = [(_plain_cos(q, rows[i]) + s * s * _dot(p_query, smooth[i])) / (1 + s * s) for i in range(7)]
    np.testing.assert_allclose(adapter.scores(query, candidates), expected, atol=1e-5)
    # evaluation's rows: each smoothed over its nearest among the rows given, itself left out
    both = adapter.both_sides(candidates)
    pair = (_plain_cos(rows[2], rows[5]) + s * s * _dot(smooth[2], smooth[5])) / (1 + s * s)
    np.testing.assert_allclose(both[2] @ both[5], pair, atol=1e-5)
    # no smoothing: the unsmoothed posteriors
    plain = QueryAdapter(matrix, "class-posterior", ("a", "b", "c"), 10, "", strength=s)
    p_plain = _plain_posterior(q, matrix.astype(np.float64))
    np.testing.assert_allclose(
        plain.scores(query, candidates),
        [(_plain_cos(q, rows[i]) + s * s * _dot(p_plain, p[i])) / (1 + s * s) for i in range(7)],
        atol=1e-5,
    )
    # fewer candidates than k: as many neighbours as there are
    assert adapter.scores(query, candidates[:2]).shape == (2,)
    assert adapter.scores(query, candidates[:1]).shape == (1,)


def test_class_posterior_trains_with_its_measured_smoothing_and_stores_it() -> None:
    rng = np.random.default_rng(12)
    x = _unit(rng.standard_normal((30, 6))).astype(np.float32)
    labels = ["a"] * 10 + ["b"] * 10 + ["c"] * 10
    trained = train_classes(x, labels)
    # the defaults docs/results.md and the README give
    assert (trained.strength, trained.neighbours, trained.mix) == (pytest.approx(0.9), 4, pytest.approx(0.5))
    direction = train_classes(x, labels, method="class-direction")
    assert (direction.neighbours, direction.mix) == (0, 0.0)
    adapter = as_adapter(trained)
    assert (adapter.neighbours, adapter.mix) == (4, pytest.approx(0.5))
    record = AdapterRecord(
        "class-posterior", "fp", trained.classes, 30, "2026-11-30T00:00:00+00:00", trained.matrix, 0.9, 4, 0.5
    )
    back = AdapterRecord.from_table(record.to_table())
    assert back is not None and (back.neighbours, back.mix) == (4, pytest.approx(0.5))


def test_a_table_written_before_smoothing_reads_as_unsmoothed() -> None:
    """Such a table has `rows` and `strength` but no `neighbours` or `mix`: it was trained unsmoothed."""
    old = _older_table(
        "class-posterior", 3, [1.0, 0.0, 0.0, 0.0, 1.0, 0.5],
        rows=pa.array([2], pa.int32()), strength=pa.array([0.5], pa.float32()),
    )  # fmt: skip
    back = AdapterRecord.from_table(old)
    assert back is not None and back.strength == 0.5 and (back.neighbours, back.mix) == (0, 0.0)


def test_the_adaptation_block_scores_class_posterior_as_search_does() -> None:
    """eval --adapt's seen figure for class-posterior, by hand: the regression trained as `compare` trains
    it (the same split), then each query's leave-one-out ranking of the other rows (all inside the search's
    pool of 200) by [x, s p~(x)] scores, posteriors smoothed over the nearest candidates, written out here."""
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
    k, mix = trained.neighbours, trained.mix
    v = x[test].astype(np.float64)
    logits = v @ w.T + b
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= np.linalg.norm(p, axis=1, keepdims=True)
    cos = v @ v.T
    ap = []
    for i in range(len(test)):
        pool = [j for j in range(len(test)) if j != i]
        smooth = {}
        for j in pool:
            near = sorted((c for c in pool if c != j), key=lambda c: -cos[j, c])[:k]
            mixed = (1 - mix) * p[j] + mix * p[near].mean(axis=0)
            smooth[j] = mixed / np.linalg.norm(mixed)
        near_query = sorted(pool, key=lambda c: -cos[i, c])[:k]
        pq = (1 - mix) * p[i] + mix * p[near_query].mean(axis=0)
        pq /= np.linalg.norm(pq)
        score = {j: (cos[i, j] + s * s * pq @ smooth[j]) / (1 + s * s) for j in pool}
        ranked = sorted(pool, key=lambda j: (-score[j], j))[:10]
        hits = y[test][ranked] == y[test][i]
        ap.append((np.cumsum(hits) / np.arange(1, 11) * hits).sum() / min(10, 5))  # 5 others per class
    assert block["seen"]["adapted"]["map_at_10"] == pytest.approx(np.mean(ap), abs=1e-4)
    assert block["seen"]["adapted"]["map_at_10"] != block["seen"]["frozen"]["map_at_10"]


def _class_posterior(dim: int, seed: int, *, neighbours: int = 4, mix: float = 0.5) -> QueryAdapter:
    matrix = np.random.default_rng(seed).standard_normal((3, dim + 1)).astype(np.float32)
    return QueryAdapter(
        matrix, "class-posterior", ("a", "b", "c"), 10, "", strength=0.9, neighbours=neighbours, mix=mix
    )


def test_a_pool_smaller_than_k_smooths_the_query_with_every_candidate() -> None:
    """One candidate: the query's posterior is mixed with it, and the candidate has no neighbour; three
    candidates and k = 4: the query takes all three, each candidate the other two."""
    adapter = _class_posterior(4, 13)
    rng = np.random.default_rng(14)
    query, candidates = rng.standard_normal(4), rng.standard_normal((3, 4))
    m = adapter.matrix.astype(np.float64)
    q, rows = query.tolist(), candidates.tolist()
    p = [_plain_posterior(r, m) for r in rows]
    p_query_one = _plain_smoothed(_plain_posterior(q, m), [p[0]], 0.5)
    one = (_plain_cos(q, rows[0]) + 0.81 * _dot(p_query_one, p[0])) / 1.81
    np.testing.assert_allclose(adapter.scores(query, candidates[:1]), [one], atol=1e-5)
    p_query = _plain_smoothed(_plain_posterior(q, m), p, 0.5)
    smooth = [_plain_smoothed(p[i], [p[j] for j in range(3) if j != i], 0.5) for i in range(3)]
    three = [(_plain_cos(q, rows[i]) + 0.81 * _dot(p_query, smooth[i])) / 1.81 for i in range(3)]
    np.testing.assert_allclose(adapter.scores(query, candidates), three, atol=1e-5)


def test_smoothing_looks_among_the_rows_nearest_the_query_only() -> None:
    """Past SMOOTHING_REFERENCE (200) rows, a posterior's neighbours are looked for among the 200 rows
    nearest the query, so the cost stays rows x 200 (relevance feedback can compare thousands)."""
    adapter = _class_posterior(6, 15, neighbours=2)
    rng = np.random.default_rng(16)
    x = _unit(rng.standard_normal((260, 6))).astype(np.float32)
    query = _unit(rng.standard_normal(6)).astype(np.float32)
    reference = np.argsort(-(x @ query), kind="stable")[:200]
    weights, bias = adapter.matrix[:, :-1].astype(np.float64), adapter.matrix[:, -1].astype(np.float64)
    logits = x.astype(np.float64) @ weights.T + bias
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= np.linalg.norm(p, axis=1, keepdims=True)
    want = []
    for i in range(260):
        among = [int(j) for j in reference if j != i]
        near = sorted(among, key=lambda j: -float(x[i] @ x[j]))[:2]
        mixed = 0.5 * p[i] + 0.5 * p[near].mean(axis=0)
        want.append(np.r_[x[i], 0.9 * mixed / np.linalg.norm(mixed)] / np.sqrt(1.81))
    np.testing.assert_allclose(adapter.both_sides(x, around=query), np.array(want), atol=1e-5)


def test_evaluation_ranks_each_pool_as_a_search_scores_it() -> None:
    """adapted_retrieval (batched, for eval) against a loop of QueryAdapter.scores over each query's 200
    nearest other rows (search's path), on more rows than the pool, and with k past the pool."""
    from pixseek.evaluation.adaptation import adapted_retrieval
    from pixseek.evaluation.metrics import ranking_scores

    adapter = _class_posterior(8, 17)
    rng = np.random.default_rng(18)
    labels = [f"c{i % 4}" for i in range(300)]
    x = _unit(rng.standard_normal((4, 8))[[i % 4 for i in range(300)]] + 1.5 * rng.standard_normal((300, 8)))
    x = x.astype(np.float32)
    for k in (10, 250):
        top = []
        for i in range(300):
            cos = x @ x[i]
            cos[i] = -np.inf
            pool = np.sort(np.argsort(-cos, kind="stable")[: max(k, 200)])
            scores = adapter.scores(x[i], x[pool])
            top.append(pool[np.lexsort((pool, -scores))[:k]])
        want = ranking_scores(np.array(top), labels)
        got = adapted_retrieval(x, labels, adapter, k=k)
        assert got.map_at_10 == pytest.approx(want.map_at_10, abs=1e-6)
        assert got.precision_at_10 == pytest.approx(want.precision_at_10, abs=1e-6)
