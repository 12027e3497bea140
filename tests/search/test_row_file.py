"""The list-ordered vector file: rows come back as written, whatever the layout, and rows close together in
the file are read as one span."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from pixseek.search import row_file
from pixseek.search.row_file import RowFile, positions_of, write_in_order

DIM = 8  # 16 B a row: the default 8 KB gap is 512 rows
N = 5000


@pytest.fixture
def laid_out(tmp_path: Path) -> tuple[np.ndarray, np.ndarray, Path]:
    """Rows in catalog order, a shuffled file order, and the file written in it."""
    rng = np.random.default_rng(3)
    rows = rng.standard_normal((N, DIM)).astype(np.float16)
    order = rng.permutation(N)  # file position -> catalog row
    source = tmp_path / "catalog-order.f16"
    rows.tofile(source)
    path = tmp_path / "listed.f16"
    write_in_order(
        np.memmap(source, dtype=np.float16, mode="r", shape=(N, DIM)), positions_of(order), path, chunk=700
    )
    return rows, order, path


def test_the_file_holds_each_row_at_its_place_in_the_order(
    laid_out: tuple[np.ndarray, np.ndarray, Path],
) -> None:
    rows, order, path = laid_out
    np.testing.assert_array_equal(np.fromfile(path, dtype=np.float16).reshape(N, DIM), rows[order])


def test_rows_come_back_in_the_order_asked(
    laid_out: tuple[np.ndarray, np.ndarray, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    rows, order, path = laid_out
    file = RowFile(path, DIM, positions_of(order))
    asked = np.random.default_rng(4).choice(N, 900, replace=False)
    np.testing.assert_array_equal(file.read(asked), rows[asked])
    np.testing.assert_array_equal(file.read(np.array([9, 9, 2])), rows[[9, 9, 2]])
    assert file.read(np.array([], dtype=np.int64)).shape == (0, DIM)
    monkeypatch.setattr(row_file, "_CHUNK_ROWS", 7)  # a large request, read a bounded part at a time
    monkeypatch.setattr(row_file, "MAX_GAP_BYTES", 0)
    np.testing.assert_array_equal(RowFile(path, DIM, positions_of(order)).read(asked), rows[asked])
    np.testing.assert_array_equal(RowFile(path, DIM, None).read(asked), rows[order][asked])  # catalog order


def test_rows_close_together_are_read_as_one_span(
    laid_out: tuple[np.ndarray, np.ndarray, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    rows, order, path = laid_out
    reads: list[tuple[int, int]] = []
    real_preadv = os.preadv

    def preadv(fd: int, buffers: list[memoryview], offset: int) -> int:
        reads.append((offset, sum(len(b) for b in buffers)))
        return real_preadv(fd, buffers, offset)

    monkeypatch.setattr(os, "preadv", preadv)
    file = RowFile(path, DIM, positions_of(order))
    # file positions 100, 102, ..., 298 (gaps of one row), and 4000 (3,700 rows on: past the 512-row gap)
    at = np.r_[np.arange(100, 300, 2), 4000]
    np.testing.assert_array_equal(file.read(order[at]), rows[order[at]])
    assert reads == [(100 * 2 * DIM, 199 * 2 * DIM), (4000 * 2 * DIM, 2 * DIM)]


@pytest.mark.parametrize("cold", [False, True], ids=["from-cache", "from-disk"])
def test_spans_past_the_probe_are_prefetched_only_when_the_first_came_from_disk(
    cold: bool, laid_out: tuple[np.ndarray, np.ndarray, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    rows, order, path = laid_out
    asked: list[tuple[int, int]] = []
    monkeypatch.setattr(os, "posix_fadvise", lambda fd, offset, size, advice: asked.append((offset, size)))
    monkeypatch.setattr(row_file, "MAX_GAP_BYTES", 0)  # every row its own span
    slow = 0 if cold else 10**12  # every read looks slow / fast
    monkeypatch.setattr(row_file, "_COLD_SPAN_NS", slow)
    monkeypatch.setattr(row_file, "_COLD_NS_PER_KB", slow)
    at = np.arange(0, N, 50)  # 100 file positions: 32 probed, 68 left
    np.testing.assert_array_equal(RowFile(path, DIM, positions_of(order)).read(order[at]), rows[order[at]])
    assert asked == ([(int(p) * 2 * DIM, 2 * DIM) for p in at[32:]] if cold else [])


def test_a_file_shorter_than_its_rows_is_one_clear_error(
    laid_out: tuple[np.ndarray, np.ndarray, Path],
) -> None:
    _, order, path = laid_out
    os.truncate(path, 10 * 2 * DIM)
    file = RowFile(path, DIM, positions_of(order))
    assert file.read(order[[3, 9]]).shape == (2, DIM)
    with pytest.raises(OSError, match=r"^the vector file .*listed\.f16 is shorter than its index$"):
        file.read(order[[3, 10]])


def test_read_buffers_are_reused_and_only_small_ones_kept(
    laid_out: tuple[np.ndarray, np.ndarray, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    rows, order, path = laid_out
    file = RowFile(path, DIM, positions_of(order))
    file.read(order[:100])
    kept = list(file._buffers._free)
    assert len(kept) == 1
    file.read(order[:50])
    assert file._buffers._free == kept and file._buffers._free[0] is kept[0]  # the same buffer again
    monkeypatch.setattr(row_file, "KEEP_BUFFER_BYTES", 100 * 2 * DIM - 1)  # below a 100-row read
    big = RowFile(path, DIM, positions_of(order))
    np.testing.assert_array_equal(big.read(order[:100]), rows[order[:100]])
    assert big._buffers._free == []
