"""FAISS IVF index: good recall on clustered data, persistence, padding."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pixseek.search import ExactIndex, IvfIndex


def _clustered(n: int, d: int, centres: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    c = rng.standard_normal((centres, d))
    x = c[rng.integers(0, centres, n)] + 0.3 * rng.standard_normal((n, d))
    x = x.astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _recall(exact: np.ndarray, approx: np.ndarray) -> float:
    return float(np.mean([len(set(a) & set(b)) / len(a) for a, b in zip(exact, approx, strict=True)]))


def test_recall_on_clustered_data() -> None:
    data = _clustered(5000, 32, 50)
    queries = _clustered(100, 32, 50, seed=1)
    _, exact = ExactIndex(data).search(queries, 10)
    ann = IvfIndex.build(data, nprobe=16)
    _, approx = ann.search(queries, 10)
    assert _recall(exact, approx) >= 0.95
    _, everything = IvfIndex.build(data, nprobe=10_000).search(queries, 10)
    assert _recall(exact, everything) == 1.0  # probing every list is exhaustive


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    data = _clustered(800, 16, 8)
    ann = IvfIndex.build(data)
    path = tmp_path / "ann.faiss"
    ann.save(path)
    loaded = IvfIndex.load(path)
    assert len(loaded) == 800 and loaded.nlist == ann.nlist
    np.testing.assert_array_equal(loaded.search(data[:5], 3)[1], ann.search(data[:5], 3)[1])
    assert not list(tmp_path.glob(".*tmp"))


def test_fewer_rows_than_k_are_padded() -> None:
    data = _clustered(50, 8, 2)
    scores, idx = IvfIndex.build(data, nprobe=1000).search(data[:1], 80)
    assert (idx[0, 50:] == -1).all() and np.isneginf(scores[0, 50:]).all()


def test_a_tiny_catalog_builds_without_faiss_warnings(capfd) -> None:
    """One to a few dozen rows train fewer points a list than FAISS asks for, which is unavoidable; its
    C++ warning ("clustering 1 points to 1 centroids") went to stderr raw."""
    for n in (1, 5, 31, 64):
        x = np.random.default_rng(n).standard_normal((n, 8)).astype(np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        index = IvfIndex.build(x)
        assert index.search(x[:1], 1)[1][0, 0] == 0
    assert "WARNING" not in capfd.readouterr().err
