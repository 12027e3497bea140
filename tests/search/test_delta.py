"""An older version's ANN index plus an exact delta answers like exact search over the newer version."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from pixseek.search.ann import IvfIndex
from pixseek.search.compressed import CompressedIndex
from pixseek.search.delta import (
    DeltaIndex,
    match_rows,
    row_keys,
    top_k_merge,
    within_bound,
)

DIM = 16


def _unit(n: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_rows_are_matched_by_key_across_versions() -> None:
    match = match_rows(np.array([10, 20, 30, 40], dtype=np.uint64), np.array([30, 50, 10], dtype=np.uint64))
    assert match.to_current.tolist() == [2, -1, 0, -1]  # 10 is now row 2, 30 row 0; 20 and 40 are gone
    assert match.base_of.tolist() == [2, -1, 0]
    assert match.delta.tolist() == [1]  # 50 is new
    assert match.dropped.tolist() == [1, 3]
    assert match.changes == 3


def test_a_row_keeps_its_key_through_a_rename_and_gets_a_new_one_when_re_embedded() -> None:
    ids, hashes = pa.array(["a", "b", "a"]), pa.array(["h1", "h1", "h2"])
    keys = row_keys([(ids, hashes)])
    again = row_keys([(pa.array(["a"]), pa.array(["h1"]))])
    assert keys.dtype == np.uint64 and len(set(keys.tolist())) == 3
    assert again[0] == keys[0]


def test_the_bound_is_the_smaller_of_the_limit_and_a_tenth_of_the_catalog() -> None:
    three = match_rows(np.array([1, 2, 3], dtype=np.uint64), np.array([1, 4], dtype=np.uint64))  # +4, -2, -3
    assert within_bound(three, rows=30, limit=5)  # 3 <= min(5, 3.0)
    assert not within_bound(three, rows=29, limit=5)  # 3 > 2.9
    assert not within_bound(three, rows=1000, limit=2)


def test_merge_keeps_the_best_k_of_two_lists_with_ties_by_row() -> None:
    scores, idx = top_k_merge(
        np.array([[0.9, 0.5, -np.inf]], dtype=np.float32),
        np.array([[4, 7, -1]]),
        np.array([[0.7, 0.5]], dtype=np.float32),
        np.array([[2, 3]]),
        4,
    )
    assert idx.tolist() == [[4, 2, 3, 7]]
    assert scores[0].tolist() == pytest.approx([0.9, 0.7, 0.5, 0.5])


def _changed_version(base: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A newer version: 5% of the base rows deleted, 40 new rows, 10 re-embedded, all shuffled.
    Returns (base keys, current keys, current vectors, which current rows are new)."""
    rng = np.random.default_rng(seed)
    n = len(base)
    base_keys = np.arange(1, n + 1, dtype=np.uint64)
    kept = np.sort(rng.choice(n, size=n - n // 20, replace=False))
    reembedded = kept[:10]
    keys = base_keys[kept].copy()
    vectors = base[kept].copy()
    keys[:10] += np.uint64(10_000_000)  # same id, new content: a new key
    vectors[:10] = _unit(10, seed + 1)
    new = _unit(40, seed + 2)
    keys = np.concatenate([keys, np.arange(20_000_000, 20_000_040, dtype=np.uint64)])
    vectors = np.concatenate([vectors, new])
    order = rng.permutation(len(keys))
    is_new = np.zeros(len(keys), dtype=bool)
    is_new[:10], is_new[-40:] = True, True
    assert len(reembedded) == 10
    return base_keys, keys[order], vectors[order], is_new[order]


def _exact(
    vectors: np.ndarray, queries: np.ndarray, k: int, rows: np.ndarray | None = None
) -> list[list[int]]:
    allowed = np.arange(len(vectors)) if rows is None else rows
    scores = queries @ vectors[allowed].T
    return [allowed[np.argsort(-s, kind="stable")[:k]].tolist() for s in scores]


@pytest.mark.parametrize("kind", ["ivf-flat", "ivf-pq"])
def test_an_older_index_plus_the_delta_answers_like_exact_search(kind: str, tmp_path: Path) -> None:
    base = _unit(2000, 0)
    if kind == "ivf-flat":
        index = IvfIndex.build(base, nlist=8)
        index.nprobe = 8  # every list: the base itself is exact, so any difference is the delta's
    else:
        built = CompressedIndex.build([base], len(base), DIM, tmp_path, 1)
        index = built.with_params(nprobe=10_000, refine=10_000)
    base_keys, keys, vectors, is_new = _changed_version(base, 3)
    match = match_rows(base_keys, keys)
    assert match.delta.tolist() == np.flatnonzero(is_new).tolist()
    assert len(match.dropped) == 100 + 10  # deleted, and the old content of the re-embedded rows
    delta = DeltaIndex(index, match, vectors[match.delta], base_version=1)
    queries = np.concatenate([vectors[match.delta[:5]], _unit(5, 9)])
    _, got = delta.search(queries, 10)
    assert got.tolist() == _exact(vectors, queries, 10)
    rows = np.sort(np.random.default_rng(4).choice(len(vectors), size=300, replace=False))
    rows = np.union1d(rows, match.delta[:3])
    _, got = delta.search(queries, 10, rows=rows)
    assert got.tolist() == _exact(vectors, queries, 10, rows)


def test_row_vectors_come_from_the_base_file_or_the_delta(tmp_path: Path) -> None:
    base = _unit(1500, 5)
    index = CompressedIndex.build([base], len(base), DIM, tmp_path, 1)
    base_keys, keys, vectors, _ = _changed_version(base, 6)
    match = match_rows(base_keys, keys)
    delta = DeltaIndex(index, match, vectors[match.delta], base_version=1)
    rows = np.array([0, 7, int(match.delta[0]), 100, int(match.delta[-1])])
    np.testing.assert_allclose(delta.row_vectors(rows), vectors[rows], atol=1e-3)  # float16 on disk


def test_a_version_that_only_deleted_rows_or_a_filter_that_skips_the_delta_still_answers() -> None:
    """No delta row to search (a delete-only change, or a filter that allows none of the new rows): the
    answer is the base's alone, without the deleted rows."""
    base = _unit(600, 11)
    index = IvfIndex.build(base, nlist=4)
    index.nprobe = 4  # every list: exact
    base_keys = np.arange(1, 601, dtype=np.uint64)
    kept = np.setdiff1d(np.arange(600), [5, 50, 500])
    match = match_rows(base_keys, base_keys[kept])
    assert (len(match.delta), len(match.dropped)) == (0, 3)
    delta = DeltaIndex(index, match, np.empty((0, DIM), dtype=np.float32), base_version=1)
    queries = base[[5, 6, 300]]
    _, got = delta.search(queries, 5)
    assert got.tolist() == _exact(base[kept], queries, 5)

    new = _unit(10, 12)
    match = match_rows(base_keys, np.concatenate([base_keys, np.arange(1000, 1010, dtype=np.uint64)]))
    delta = DeltaIndex(index, match, new, base_version=1)
    rows = np.arange(0, 600, 3)  # no row of the delta (rows 600-609)
    _, got = delta.search(queries, 5, rows=rows)
    assert got.tolist() == _exact(np.concatenate([base, new]), queries, 5, rows)


def test_the_current_order_follows_the_base_order_then_adds_the_delta(tmp_path: Path) -> None:
    base = _unit(300, 7)
    base_keys, keys, vectors, _ = _changed_version(base, 8)
    match = match_rows(base_keys, keys)
    delta = DeltaIndex(IvfIndex.build(base, nlist=4), match, vectors[match.delta], base_version=1)
    base_order = np.random.default_rng(9).permutation(300)
    order = delta.current_order(base_order)
    assert sorted(order.tolist()) == list(range(len(keys)))  # every current row once
    # the kept base rows come first, in the base order, each under its current row: found again by key
    kept = [int(r) for r in base_order if base_keys[r] in set(keys.tolist())]
    position = {int(key): row for row, key in enumerate(keys.tolist())}
    assert order[: len(kept)].tolist() == [position[int(base_keys[r])] for r in kept]
    assert sorted(order[len(kept) :].tolist()) == match.delta.tolist()
