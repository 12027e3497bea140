"""The vector file the compressed index re-scores from: float16 rows laid out list by list, read with pread.

Why list order: a query's candidates come from the few inverted lists it probes, so in a file laid out as
the lists are, they sit close together. Rows a few apart are read as one span: at 10M rows a query's
1,680 candidates take about 390 reads instead of 1,680 (one syscall each, about 5 us from the page cache
here, 100 us or more from the disk). A file in catalog order (written before this layout) still reads.

Why pread and not the memory map: a fault on the map maps the whole large folio of page cache around each
row (2 MB here), so a few queries would put gigabytes of the file into the process's resident set; pread
copies only what it reads.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import weakref
from collections.abc import Iterator
from pathlib import Path

import faiss
import numpy as np

MAX_GAP_BYTES = 8 * 1024  # rows at most this far apart are read as one span: copying 8 KB costs less
# than a second syscall
_CHUNK_ROWS = 8192  # a large request is read this many rows at a time, bounding the spans' buffer
KEEP_BUFFER_BYTES = 16 * 1024 * 1024  # larger buffers (a broad filter's exact search) are not kept
_PROBE_SPANS = 32  # spans read before deciding whether the rest must come from disk
_COLD_SPAN_NS = 10_000  # a span from the page cache costs about 5 us plus its copy, one from disk 100 us
_COLD_NS_PER_KB = 1_000  # the copy runs at 5-10 GB/s, the disk streams at about 0.25 GB/s


def list_order(index: faiss.Index) -> np.ndarray:
    """Catalog rows in the order of the index's inverted lists: the file position of each row, inverted."""
    invlists = faiss.extract_index_ivf(index).invlists
    parts = []
    for list_no in range(invlists.nlist):
        size = invlists.list_size(list_no)
        if size:
            parts.append(faiss.rev_swig_ptr(invlists.get_ids(list_no), size).copy())
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)


def positions_of(order: np.ndarray) -> np.ndarray:
    """Each catalog row's position in a file written in `order` (int32 while it fits: 4 B a row)."""
    dtype = np.int32 if len(order) < 2**31 else np.int64
    positions = np.empty(len(order), dtype=dtype)
    positions[order] = np.arange(len(order), dtype=dtype)
    return positions


def write_in_order(source: np.ndarray, positions: np.ndarray, path: Path, *, chunk: int = 100_000) -> None:
    """Write `source`'s rows (float16, catalog order, usually a memory map) to `path` at their positions.
    The source is read front to back, so it need not fit in the page cache; a chunk's rows bound for one
    list are consecutive positions, so each goes out as one write."""
    n, dim = source.shape
    row_bytes = 2 * dim
    with path.open("wb") as out:
        out.truncate(n * row_bytes)
        for start in range(0, n, chunk):
            block = np.ascontiguousarray(source[start : start + chunk], dtype=np.float16)
            at = positions[start : start + len(block)].astype(np.int64)
            order = np.argsort(at, kind="stable")
            at, block = at[order], block[order]
            breaks = np.flatnonzero(np.diff(at) != 1) + 1
            for first, end in zip(np.r_[0, breaks].tolist(), np.r_[breaks, len(at)].tolist(), strict=True):
                os.pwrite(out.fileno(), memoryview(block[first:end]).cast("B"), int(at[first]) * row_bytes)
        out.flush()
        os.fsync(out.fileno())


class _Buffers:
    """Reusable read buffers, one per reader at a time. A fresh buffer of a few MB costs a page fault per
    4 KB on first touch, which on this VM took longer than the reads themselves (10 ms for 8 MB)."""

    def __init__(self) -> None:
        self._free: list[np.ndarray] = []
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def take(self, size: int) -> Iterator[np.ndarray]:
        with self._lock:
            buffer = self._free.pop() if self._free else np.empty(0, np.uint8)
        if len(buffer) < size:
            buffer = np.empty(max(size, 2 * len(buffer)), np.uint8)
        try:
            yield buffer
        finally:
            if len(buffer) <= KEEP_BUFFER_BYTES:  # a query's spans at 10M: about 8 MB
                with self._lock:
                    self._free.append(buffer)


class RowFile:
    """Rows of a vector file by catalog row, each read once per request."""

    def __init__(self, path: Path, dim: int, positions: np.ndarray | None) -> None:
        self.path = path
        self._fd = os.open(path, os.O_RDONLY)
        self._dim = dim
        self._row_bytes = 2 * dim
        self._gap = max(1, MAX_GAP_BYTES // self._row_bytes)
        self._positions = positions  # None: the file is in catalog order
        self._buffers = _Buffers()
        weakref.finalize(self, os.close, self._fd)

    def read(self, rows: np.ndarray) -> np.ndarray:
        """float16 rows, in the order asked for."""
        rows = np.asarray(rows, dtype=np.int64)
        wanted = rows if self._positions is None else self._positions[rows].astype(np.int64)
        order = np.argsort(wanted, kind="stable")
        out = np.empty((len(rows), self._dim), dtype=np.float16)
        for start in range(0, len(rows), _CHUNK_ROWS):
            part = order[start : start + _CHUNK_ROWS]
            out[part] = self._read_sorted(wanted[part])
        return out

    def _read_sorted(self, positions: np.ndarray) -> np.ndarray:
        if not len(positions):
            return np.zeros((0, self._dim), np.float16)
        breaks = np.flatnonzero(np.diff(positions) > self._gap) + 1
        firsts = positions[np.r_[0, breaks]]
        lasts = positions[np.r_[breaks - 1, len(positions) - 1]]
        counts = lasts - firsts + 1
        size = self._row_bytes
        offsets, sizes = (firsts * size).tolist(), (counts * size).tolist()
        total = int(counts.sum()) * size
        span_of = np.repeat(np.arange(len(firsts)), np.diff(np.r_[0, breaks, len(positions)]))
        span_start = np.r_[0, np.cumsum(counts)[:-1]]
        at = span_start[span_of] + (positions - firsts[span_of])
        with self._buffers.take(total) as buffer:
            view = memoryview(buffer)
            started = time.perf_counter_ns()
            got = self._preadv(view, offsets[:_PROBE_SPANS], sizes[:_PROBE_SPANS], 0)
            if len(offsets) > _PROBE_SPANS:
                budget = _COLD_SPAN_NS * _PROBE_SPANS + _COLD_NS_PER_KB * got // 1024
                if time.perf_counter_ns() - started > budget:
                    # The first spans came from disk: ask for all the others at once, so the disk serves
                    # them in parallel instead of one synchronous read after another (skipped when warm).
                    for offset, length in zip(offsets[_PROBE_SPANS:], sizes[_PROBE_SPANS:], strict=True):
                        os.posix_fadvise(self._fd, offset, length, os.POSIX_FADV_WILLNEED)
            got += self._preadv(view, offsets[_PROBE_SPANS:], sizes[_PROBE_SPANS:], got)
            if got != total:
                raise OSError(f"the vector file {self.path} is shorter than its index")
            return buffer[:total].view(np.float16).reshape(-1, self._dim)[at]

    def _preadv(self, view: memoryview, offsets: list[int], sizes: list[int], into: int) -> int:
        """Read each span into `view` from `into` on; the bytes read (fewer only at the file's end)."""
        start = into
        for offset, length in zip(offsets, sizes, strict=True):
            got = os.preadv(self._fd, [view[into : into + length]], offset)
            into += got
            if got < length:
                break
        return into - start
