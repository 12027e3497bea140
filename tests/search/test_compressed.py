"""The compressed index (search past RAM): recall against numpy brute force, filters, files, failures."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import faiss
import numpy as np
import pytest

from pixseek.search import compressed, compressed_saved, refine
from pixseek.search.compressed import CompressedIndex, sub_quantizers
from pixseek.search.compressed_saved import load_or_build
from tests.damage import damaged_in_place
from tests.file_modes import refuse_writes_in

DIM = 64


def _clustered(n: int, seed: int = 0, *, cluster: int | None = None) -> np.ndarray:
    return _clustered_with_labels(n, seed, cluster=cluster)[0]


def _clustered_with_labels(
    n: int, seed: int = 0, *, cluster: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Points around 40 fixed centres (all of them, or only `cluster`), and which centre each is near."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(99).standard_normal((40, DIM))
    labels = rng.integers(0, 40, n) if cluster is None else np.full(n, cluster)
    x = centres[labels] + 0.5 * rng.standard_normal((n, DIM))
    x = x.astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True), labels


def _stored(data: np.ndarray) -> np.ndarray:
    """What the index re-scores against: the float16 rows, as float32."""
    return data.astype(np.float16).astype(np.float32)


def _brute(data: np.ndarray, queries: np.ndarray, k: int, rows: np.ndarray | None = None) -> list[list[int]]:
    allowed = np.arange(len(data)) if rows is None else rows
    out = []
    for q in queries:
        scores = _stored(data)[allowed] @ q
        out.append([int(allowed[i]) for i in sorted(range(len(allowed)), key=lambda i: (-scores[i], i))[:k]])
    return out


def _recall(truth: list[list[int]], got: np.ndarray) -> float:
    return float(np.mean([len(set(t) & set(g.tolist())) / len(t) for t, g in zip(truth, got, strict=True)]))


def _batches(data: np.ndarray, size: int = 700):
    for start in range(0, len(data), size):
        yield data[start : start + size]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[np.ndarray, Path]:
    folder = tmp_path_factory.mktemp("pq")
    data = _clustered(6000)
    CompressedIndex.build(_batches(data), len(data), DIM, folder, version=7)
    return data, folder


def test_files_are_named_by_version_and_no_temporary_file_is_left(built: tuple[np.ndarray, Path]) -> None:
    _, folder = built
    assert sorted(p.name for p in folder.iterdir()) == [
        "pq-v7.faiss",
        "pq-v7.faiss.crc32",
        "vectors-v7.lists.f16",
    ]
    assert (folder / "vectors-v7.lists.f16").stat().st_size == 6000 * DIM * 2  # float16 rows, nothing else


def test_recall_against_brute_force(built: tuple[np.ndarray, Path]) -> None:
    data, folder = built
    index = CompressedIndex.load(folder, 7)
    assert index is not None and len(index) == 6000
    queries = _clustered(60, seed=1)
    _, got = index.search(queries, 10)
    assert _recall(_brute(data, queries, 10), got) >= 0.95


def test_exhaustive_settings_give_exactly_the_brute_force_order(built: tuple[np.ndarray, Path]) -> None:
    """Every list probed and every row refined: the refine step alone decides, so the order is exact."""
    data, folder = built
    index = CompressedIndex.load(folder, 7, nprobe=100_000, refine=600)
    queries = _clustered(20, seed=2)
    scores, got = index.search(queries, 10)
    assert got.tolist() == _brute(data, queries, 10)
    expected = np.sort(_stored(data) @ queries.T, axis=0)[::-1][:10].T
    np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-6)


def test_a_selective_filter_is_exact_over_its_rows(built: tuple[np.ndarray, Path]) -> None:
    data, folder = built
    index = CompressedIndex.load(folder, 7)
    rows = np.arange(3, 6000, 97)  # 62 rows
    queries = _clustered(10, seed=3)
    _, got = index.search(queries, 5, rows=rows)
    assert got.tolist() == _brute(data, queries, 5, rows)


def test_a_broad_filter_keeps_recall_and_never_leaks_other_rows(
    built: tuple[np.ndarray, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(compressed, "EXACT_BELOW", 0)  # force the list search with a selector
    data, folder = built
    index = CompressedIndex.load(folder, 7)
    rows = np.arange(0, 6000, 10)  # 10 % of the rows: nprobe is raised tenfold
    queries = _clustered(40, seed=4)
    _, got = index.search(queries, 10, rows=rows)
    assert set(got.ravel().tolist()) <= set(rows.tolist())
    assert _recall(_brute(data, queries, 10, rows), got) >= 0.95


def test_a_filter_far_from_the_query_still_finds_its_nearest_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The allowed rows sit in lists the query would never probe: nprobe grows as the filter narrows."""
    monkeypatch.setattr(compressed, "EXACT_BELOW", 0)
    data, labels = _clustered_with_labels(6000)
    CompressedIndex.build(_batches(data), len(data), DIM, tmp_path, version=1)
    index = CompressedIndex.load(tmp_path, 1, nprobe=4)
    rows = np.flatnonzero(labels == 5)  # one cluster of 40
    queries = _clustered(10, seed=6, cluster=17)
    _, got = index.search(queries, 10, rows=rows)
    assert _recall(_brute(data, queries, 10, rows), got) >= 0.95


def test_an_empty_filter_finds_nothing(built: tuple[np.ndarray, Path]) -> None:
    _, folder = built
    index = CompressedIndex.load(folder, 7)
    scores, got = index.search(_clustered(2, seed=5), 3, rows=np.array([], dtype=np.int64))
    assert got.tolist() == [[-1, -1, -1], [-1, -1, -1]]
    assert np.isneginf(scores).all()


def test_stored_vectors_are_read_back_from_the_file(built: tuple[np.ndarray, Path]) -> None:
    data, folder = built
    index = CompressedIndex.load(folder, 7)
    np.testing.assert_array_equal(index.row_vectors(np.array([0, 5, 5999])), _stored(data)[[0, 5, 5999]])


def test_missing_or_truncated_files_mean_no_index(tmp_path: Path, built: tuple[np.ndarray, Path]) -> None:
    _, folder = built
    assert CompressedIndex.load(folder, 8) is None  # another version
    (tmp_path / "pq-v7.faiss").write_bytes((folder / "pq-v7.faiss").read_bytes())
    assert CompressedIndex.load(tmp_path, 7) is None  # the vector file (written last) is missing
    (tmp_path / "vectors-v7.lists.f16").write_bytes(
        (folder / "vectors-v7.lists.f16").read_bytes()[: 100 * DIM * 2]
    )
    assert CompressedIndex.load(tmp_path, 7) is None  # a vector file of the wrong length


def test_codes_damaged_in_place_are_caught_by_their_digest_and_built_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """FAISS reads codes whose bytes changed while the file's structure held, and would then refine
    other rows: the CRC-32 written beside them refuses them instead."""
    data = _clustered(1500)
    load_or_build(tmp_path, 3, 1500, DIM, lambda: _batches(data))
    codes = tmp_path / "pq-v3.faiss"
    codes.write_bytes(damaged_in_place(codes.read_bytes()))
    with caplog.at_level(logging.WARNING):
        assert CompressedIndex.load(tmp_path, 3) is None
    assert "do not match the digest" in caplog.text
    rebuilt = load_or_build(tmp_path, 3, 1500, DIM, lambda: _batches(data))
    queries = _clustered(10, seed=5)
    _, got = rebuilt.with_params(nprobe=10_000, refine=10_000).search(queries, 5)
    assert got.tolist() == _brute(data, queries, 5)
    assert CompressedIndex.load(tmp_path, 3) is not None  # saved over, with a matching digest


def test_a_rescore_budget_lowers_the_refine_depth_but_never_raises_it(built: tuple[np.ndarray, Path]) -> None:
    _, folder = built
    index = CompressedIndex.load(folder, 7)
    assert index is not None and index.refine == 50
    assert compressed.within_rescore_budget(index, 10, 100, 1_000_000) is index  # 1,000 per hit: 50 kept
    assert compressed.within_rescore_budget(index, 10, 100, 5_000).refine == 5
    assert compressed.within_rescore_budget(index, 10, 100, 10).refine == 1  # at least 1


def test_a_new_version_replaces_the_old_files(tmp_path: Path) -> None:
    data = _clustered(2000)
    CompressedIndex.build(_batches(data), 2000, DIM, tmp_path, version=1)
    (tmp_path / "images.lance").mkdir()  # the catalog's own files are left alone
    CompressedIndex.build(_batches(data[:1500]), 1500, DIM, tmp_path, version=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "images.lance",
        "pq-v2.faiss",
        "pq-v2.faiss.crc32",
        "vectors-v2.lists.f16",
    ]


def test_a_short_or_long_stream_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    data = _clustered(1000)
    with pytest.raises(ValueError, match="expected 1200 rows, read 1000"):
        CompressedIndex.build(_batches(data), 1200, DIM, tmp_path, version=1)
    with pytest.raises(ValueError, match="expected 900 rows, read more"):
        CompressedIndex.build(_batches(data), 900, DIM, tmp_path, version=1)
    assert list(tmp_path.iterdir()) == []


def test_load_or_build_reuses_the_saved_files(tmp_path: Path) -> None:
    data = _clustered(1500)
    first = load_or_build(tmp_path, 3, 1500, DIM, lambda: _batches(data))
    stamp = (tmp_path / "pq-v3.faiss").stat().st_mtime_ns
    second = load_or_build(tmp_path, 3, 1500, DIM, lambda: pytest.fail("rebuilt although saved"))
    assert len(first) == len(second) == 1500
    assert (tmp_path / "pq-v3.faiss").stat().st_mtime_ns == stamp


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_catalog_folder_builds_privately_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _read_only_case(tmp_path, caplog)


def test_a_catalog_folder_that_refuses_writes_builds_privately_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As above for root, who ignores file modes: the write itself is made to fail."""
    refuse_writes_in(monkeypatch, tmp_path)
    _read_only_case(tmp_path, caplog)


def _read_only_case(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    data = _clustered(1200)
    tmp_path.chmod(0o555)
    try:
        with caplog.at_level(logging.WARNING):
            index = load_or_build(tmp_path, 1, 1200, DIM, lambda: _batches(data))
    finally:
        tmp_path.chmod(0o755)
    assert len(index) == 1200
    assert list(tmp_path.iterdir()) == []
    assert "cannot save the compressed index beside the catalog" in caplog.text


@pytest.mark.parametrize(("dim", "expected"), [(512, 128), (1280, 320), (64, 16), (6, 2), (10, 2)])
def test_sub_quantizers_split_the_dimensions_evenly(dim: int, expected: int) -> None:
    assert sub_quantizers(dim) == expected


def test_rows_are_read_back_in_any_order_and_any_number(built: tuple[np.ndarray, Path]) -> None:
    data, folder = built
    index = CompressedIndex.load(folder, 7)
    assert index is not None
    for rows in (np.array([5999, 0, 2999, 1, 5998]), np.array([7, 7, 3]), np.arange(6000)[::-1]):
        np.testing.assert_array_equal(index.row_vectors(rows), _stored(data)[rows])
    assert index.row_vectors(np.array([], dtype=np.int64)).shape == (0, DIM)


def test_the_vector_file_is_laid_out_list_by_list(built: tuple[np.ndarray, Path]) -> None:
    """The coarse quantizer's own assignment of each stored row, in file order, never goes back."""
    data, folder = built
    index = CompressedIndex.load(folder, 7)
    assert index is not None
    in_file = np.fromfile(folder / "vectors-v7.lists.f16", dtype=np.float16).reshape(-1, DIM)
    assert sorted(map(tuple, in_file.tolist())) == sorted(map(tuple, _stored(data).tolist()))  # same rows
    _, lists = faiss.extract_index_ivf(index._index).quantizer.search(in_file.astype(np.float32), 1)
    assert np.all(np.diff(lists[:, 0]) >= 0)
    assert len(np.unique(lists)) > 10  # many lists, so the order is not trivially true


def test_a_vector_file_in_catalog_order_still_reads(tmp_path: Path, built: tuple[np.ndarray, Path]) -> None:
    """Indexes built before the list layout keep serving until the next build."""
    data, folder = built
    (tmp_path / "pq-v7.faiss").write_bytes((folder / "pq-v7.faiss").read_bytes())
    data.astype(np.float16).tofile(tmp_path / "vectors-v7.f16")
    index = CompressedIndex.load(tmp_path, 7)
    assert index is not None and index.positions is None
    rows = np.array([4000, 3, 17])
    np.testing.assert_array_equal(index.row_vectors(rows), _stored(data)[rows])
    queries = _clustered(20, seed=3)
    _, got = index.with_params(nprobe=10_000, refine=10_000).search(queries, 5)
    assert got.tolist() == _brute(data, queries, 5)


def test_the_refine_depth_grows_past_two_million_rows(built: tuple[np.ndarray, Path]) -> None:
    # 50 * (N / 2M) ** 0.75, never below 50: at 10M, 50 * 5 ** 0.75 = 167.2 -> 168 (worked by hand)
    assert [compressed.default_refine(n) for n in (1_000, 2_000_000, 10_000_000)] == [50, 50, 168]
    _, folder = built
    index = CompressedIndex.load(folder, 7)
    assert index is not None and index.refine == 50


def test_every_float16_value_reads_back_as_numpy_converts_it() -> None:
    """The refine's float16 -> float32 step (FAISS's decoder) against numpy's astype, on all 65,536 bit
    patterns: normals, subnormals, zeros of both signs, infinities and NaNs."""
    every = np.arange(65_536, dtype=np.uint16).view(np.float16).reshape(128, 512)
    got = refine.float32_rows(every)
    assert got.dtype == np.float32 and got.shape == (128, 512)
    np.testing.assert_array_equal(got, every.astype(np.float32))  # NaN equals NaN here
    assert np.array_equal(np.signbit(got), np.signbit(every))  # -0.0 stays -0.0
    assert refine.float32_rows(np.zeros((0, 512), np.float16)).shape == (0, 512)


def test_a_vector_file_cut_short_after_loading_is_one_clear_error(
    tmp_path: Path, built: tuple[np.ndarray, Path]
) -> None:
    _, folder = built
    for name in ("pq-v7.faiss", "vectors-v7.lists.f16"):
        (tmp_path / name).write_bytes((folder / name).read_bytes())
    index = CompressedIndex.load(tmp_path, 7)
    assert index is not None and index.positions is not None
    os.truncate(tmp_path / "vectors-v7.lists.f16", 100 * DIM * 2)  # the first 100 rows of the file remain
    kept, lost = np.flatnonzero(index.positions < 100), np.flatnonzero(index.positions >= 100)
    assert index.row_vectors(kept[:2]).shape == (2, DIM)
    with pytest.raises(
        OSError, match=r"^the vector file .*vectors-v7\.lists\.f16 is shorter than its index$"
    ):
        index.row_vectors(np.array([kept[0], lost[0]]))


def test_a_batch_and_its_queries_one_at_a_time_give_the_brute_force_answer(
    built: tuple[np.ndarray, Path],
) -> None:
    """A batch re-scores its candidates together (one read per group of queries), a single query alone;
    with every list probed and every row refined, both must be the brute-force order."""
    data, folder = built
    index = CompressedIndex.load(folder, 7, nprobe=100_000, refine=600)
    assert index is not None
    queries = _clustered(12, seed=5)
    truth = _brute(data, queries, 10)
    _, batch = index.search(queries, 10)
    assert batch.tolist() == truth
    assert [index.search(q[None, :], 10)[1][0].tolist() for q in queries] == truth


def test_a_batch_counts_a_repeated_candidate_once_and_pads_past_the_candidates(
    built: tuple[np.ndarray, Path],
) -> None:
    data, folder = built
    index = CompressedIndex.load(folder, 7)
    assert index is not None
    queries = _clustered(2, seed=6)
    candidates = np.array([[5, 9, 5, -1, 9], [-1, -1, -1, -1, 12]])  # as FAISS pads: -1
    scores, rows = refine.rescore_batch(queries, candidates, 3, index.row_vectors)
    stored = _stored(data)
    first = sorted([5, 9], key=lambda r: -float(stored[r] @ queries[0]))
    assert rows.tolist() == [[*first, -1], [12, -1, -1]]
    np.testing.assert_allclose(scores[0, :2], [stored[r] @ queries[0] for r in first], rtol=1e-5)
    assert scores[0, 2] == -np.inf and np.isinf(scores[1, 1:]).all()


def test_a_batch_gathers_vectors_only_for_real_candidates(built: tuple[np.ndarray, Path]) -> None:
    """A deep refine over a small catalog asks FAISS for far more candidates than there are rows; the
    padding (-1) must not be gathered: 1M padded columns at 64-d would be 256 MB of float32 a query."""
    import tracemalloc

    data, folder = built
    index = CompressedIndex.load(folder, 7)
    assert index is not None
    queries = _clustered(1, seed=7)
    candidates = np.full((1, 1_000_000), -1, dtype=np.int64)
    candidates[0, :3] = [40, 7, 40]
    tracemalloc.start()
    try:
        _, rows = refine.rescore_batch(queries, candidates, 2, index.row_vectors)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    stored = _stored(data)
    assert rows.tolist() == [sorted([7, 40], key=lambda r: -float(stored[r] @ queries[0]))]
    assert peak < 64 * 2**20  # the candidates and their sorted copies: 8 MB each


def test_the_scan_order_lists_the_rows_as_the_vector_file_holds_them(built: tuple[np.ndarray, Path]) -> None:
    data, folder = built
    index = CompressedIndex.load(folder, 7)
    assert index is not None
    order = index.scan_order()
    assert sorted(order.tolist()) == list(range(6000))
    in_file = np.fromfile(folder / "vectors-v7.lists.f16", dtype=np.float16).reshape(-1, DIM)
    np.testing.assert_array_equal(in_file.astype(np.float32), _stored(data)[order])


def test_other_settings_are_a_copy_that_shares_the_open_vector_file(built: tuple[np.ndarray, Path]) -> None:
    """A search may ask for a shallow refine per query: that must neither change the index it came from
    nor open the vector file (and allocate read buffers) again."""
    data, folder = built
    index = CompressedIndex.load(folder, 7)
    assert index is not None and (index.refine, index.nprobe) == (50, 32)  # the defaults at 6,000 rows
    shallow = index.with_params(refine=1, nprobe=3)
    assert (shallow.refine, shallow.nprobe) == (1, 3) and (index.refine, index.nprobe) == (50, 32)
    assert shallow._file is index._file
    np.testing.assert_array_equal(shallow.row_vectors(np.array([5, 9])), _stored(data)[[5, 9]])


def test_a_read_only_catalog_builds_once_into_the_fallback_and_later_processes_load_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each CLI search over a read-only past-RAM catalog built the index again, in a new /tmp folder that
    was never removed. With this machine's cache folder as the fallback it is built once and kept."""
    catalog, cache = tmp_path / "catalog", tmp_path / "cache"
    catalog.mkdir()
    refuse_writes_in(monkeypatch, catalog)
    monkeypatch.setattr(compressed_saved.tempfile, "mkdtemp", lambda **kw: pytest.fail("a temporary folder"))
    data = _clustered(1200)
    with caplog.at_level(logging.WARNING):
        first = load_or_build(catalog, 1, 1200, DIM, lambda: _batches(data), fallback=cache)
    assert f"building in {cache}" in caplog.text
    assert list(catalog.iterdir()) == [] and (cache / "pq-v1.faiss").is_file()
    again = load_or_build(catalog, 1, 1200, DIM, lambda: pytest.fail("built again"), fallback=cache)
    assert len(first) == len(again) == 1200
    queries = data[:5]
    assert [list(r) for r in again.search(queries, 3)[1]] == [list(r) for r in first.search(queries, 3)[1]]
