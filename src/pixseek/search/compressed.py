"""Search past RAM: FAISS IVF-PQ codes in memory, full vectors on disk for a refine step.

Chosen by measurement (`pixseek bench search`, docs/scaling.md): 4-bit fast-scan PQ with one sub-quantizer
per 4 dimensions (64 B a 512-d vector) ranks candidates; the best `refine * k` of them are re-scored
exactly against the float16 vectors (the catalog's own precision) read from a file beside the catalog,
laid out in the order of the inverted lists (search.row_file). RAM holds the codes plus 12 B a row of list
ids and file positions: about 0.8 GB at 10M, against 20 GB for the float32 matrix. The page cache keeps
what it can of the vector file; a query touches only `refine * k` rows.
"""

from __future__ import annotations

import copy
import logging
import math
import mmap
import os
from collections.abc import Iterable
from pathlib import Path

import faiss
import numpy as np

from pixseek.search import refine
from pixseek.search.delta import (
    DeltaIndex,
    ivf_params,
    keys_path,
    save_keys,
)
from pixseek.search.exact import top_k
from pixseek.search.row_file import RowFile, list_order, positions_of, write_in_order
from pixseek.search.saved_digest import crc_of_file, digest_path, intact, write_digest
from pixseek.search.temporary_files import remove_dead_temporaries, temporary_path

PQ_PREFIX = "pq-v"
VECTORS_PREFIX = "vectors-v"
DEFAULT_NPROBE = 32
DEFAULT_REFINE = 50  # candidates per wanted hit re-scored exactly: recall@10 0.99 at 1M clustered
_REFINE_FROM = 2_000_000  # the refine depth grows past this many rows
EXACT_BELOW = 50_000  # a filter allowing fewer rows is searched exactly over those rows' vectors
_DIMS_PER_SUB_QUANTIZER = 4
_TRAIN_PER_LIST = 32
_KMEANS_ITERATIONS = 10
_ADD_CHUNK = 100_000
log = logging.getLogger(__name__)


def file_names(version: int) -> tuple[str, str]:
    """(codes, vectors) file names of one catalog version; the vector file is in list order."""
    return f"{PQ_PREFIX}{version}.faiss", f"{VECTORS_PREFIX}{version}.lists.f16"


def catalog_order_name(version: int) -> str:
    """The vector file as builds before the list layout wrote it (rows in catalog order): still read."""
    return f"{VECTORS_PREFIX}{version}.f16"


def default_refine(n: int) -> int:
    """Candidates per wanted hit to re-score, growing with N: at 10M clustered rows a depth of 50 kept
    recall@10 at 0.82, 100 at 0.92 and 200 at 0.97 (benchmarks/refine_sweep.py, docs/scaling.md); the
    first-stage PQ ranking blurs as more rows crowd each list."""
    return max(DEFAULT_REFINE, math.ceil(DEFAULT_REFINE * (n / _REFINE_FROM) ** 0.75))


def default_nlist(n: int) -> int:
    return max(1, min(n // _TRAIN_PER_LIST, int(2 * math.sqrt(n))))


class CompressedIndex:
    """IVF-PQ over L2-normalised rows, with an exact float16 refine; rows are the catalog snapshot's order."""

    def __init__(
        self,
        index: faiss.Index,
        vectors: np.ndarray,
        *,
        positions: np.ndarray | None = None,
        nprobe: int = DEFAULT_NPROBE,
        refine: int | None = None,
    ) -> None:
        if index.ntotal != len(vectors):
            raise ValueError(f"codes hold {index.ntotal} rows, the vector file {len(vectors)}")
        self._index = index
        self._ivf = faiss.extract_index_ivf(index)
        self.vectors = vectors  # (N, D) float16 in file order, usually a read-only memory map
        self.positions = positions  # each row's place in `vectors`; None: catalog order
        self.nprobe = nprobe
        self.refine = refine or default_refine(int(index.ntotal))
        path = self.vector_path
        self._file = RowFile(path, vectors.shape[1], positions) if path is not None else None

    def with_params(self, *, nprobe: int | None = None, refine: int | None = None) -> CompressedIndex:
        """The same codes and vector file, searched with other settings (a shallow refine for a self-join,
        where each of N queries re-scoring 50 k rows would read the vector file many times over). A shallow
        copy: it shares the open vector file and its read buffers, as a search may ask for one per query."""
        other = copy.copy(self)
        other.nprobe, other.refine = nprobe or self.nprobe, refine or self.refine
        return other

    # -- build, save, load -------------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        batches: Iterable[np.ndarray],
        n: int,
        dim: int,
        folder: Path,
        version: int,
        *,
        keys: np.ndarray | None = None,
        seed: int = 0,
    ) -> CompressedIndex:
        """Stream `batches` (float32 or float16 rows, n in all) into the vector file, train on a sample of
        it, then encode it chunk by chunk: peak memory is one chunk plus the codes, whatever n is.
        `keys` (the rows' keys, see search.delta) let later versions keep using this index."""
        codes_name, vectors_name = file_names(version)
        vectors_path = folder / vectors_name
        tmp_vectors, tmp_listed = (
            temporary_path(folder / catalog_order_name(version)),
            temporary_path(vectors_path),
        )
        try:
            written = _write_vectors(batches, tmp_vectors, n, dim)
            if written != n:
                raise ValueError(f"expected {n} rows, read {written}")
            vectors = np.memmap(tmp_vectors, dtype=np.float16, mode="r", shape=(n, dim))
            index = _train(vectors, seed)
            for start in range(0, n, _ADD_CHUNK):
                index.add(np.asarray(vectors[start : start + _ADD_CHUNK], dtype=np.float32))
            write_in_order(vectors, positions_of(list_order(index)), tmp_listed)
            del vectors
            tmp_vectors.unlink()
            if keys is not None:
                save_keys(keys, keys_path(folder / codes_name))
            _write_index(index, folder / codes_name)
            tmp_listed.replace(vectors_path)  # the vector file last: its presence means both are whole
        finally:
            tmp_vectors.unlink(missing_ok=True)
            tmp_listed.unlink(missing_ok=True)
        remove_other_versions(folder, version)
        return cls.load(folder, version)  # type: ignore[return-value]

    @classmethod
    def load(cls, folder: Path, version: int, **params: int) -> CompressedIndex | None:
        """The saved index of this catalog version, or None when there is none (or it is incomplete)."""
        codes_name, vectors_name = file_names(version)
        codes, vectors_path = folder / codes_name, folder / vectors_name
        listed = vectors_path.is_file()
        if not listed:
            vectors_path = folder / catalog_order_name(version)
        if not (codes.is_file() and vectors_path.is_file()):
            return None
        if not intact(codes):  # built again by the caller, as one FAISS cannot read is
            log.warning("ignoring %s: its bytes do not match the digest saved with it", codes)
            return None
        try:
            index = faiss.read_index(str(codes))
        except RuntimeError:  # not a FAISS file (a corrupt or foreign copy): treated as absent
            log.warning("ignoring %s: not a readable FAISS index", codes)
            return None
        dim = index.d
        rows = vectors_path.stat().st_size // (2 * dim)
        if rows != index.ntotal or rows == 0:
            return None
        vectors = np.memmap(vectors_path, dtype=np.float16, mode="r", shape=(rows, dim))
        # Refine reads scattered rows: on a cold cache, read-ahead around each fault would read far more
        # of the file than the rows asked for.
        vectors._mmap.madvise(mmap.MADV_RANDOM)  # type: ignore[attr-defined]
        positions = positions_of(list_order(index)) if listed else None
        return cls(index, vectors, positions=positions, **params)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    @property
    def vector_path(self) -> Path | None:
        """The vector file the refine reads (None when the vectors are not a file)."""
        path = getattr(self.vectors, "filename", None)
        return Path(path) if isinstance(self.vectors, np.memmap) and path else None

    # -- search ------------------------------------------------------------------------------------
    def search(
        self,
        queries: np.ndarray,
        k: int,
        *,
        rows: np.ndarray | None = None,
        dropped: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k per query; `rows` (sorted row indices, from a filter) restricts the candidates, and
        `dropped` (rows deleted since the build) are left out.

        A selective filter is searched exactly over its rows; a broad one through the lists, with nprobe
        raised by the inverse of the fraction it keeps, so a filter never costs recall.
        """
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        if rows is not None and len(rows) <= EXACT_BELOW:
            scores, idx = top_k(queries @ self.row_vectors(rows).T, k)
            return scores, (np.where(idx >= 0, rows[np.maximum(idx, 0)], -1) if len(rows) else idx)
        params, _keep = ivf_params(self.nprobe, self._ivf.nlist, len(self), rows, dropped)
        depth = max(k, min(self.refine * k, len(self)))  # never more candidates than rows
        _, candidates = self._index.search(queries, depth, params=params)
        if len(queries) != 1:  # a batch (a duplicates self-join): one read per group of queries
            return refine.rescore_batch(queries, candidates, k, self.row_vectors)
        found = refine.sorted_unique(candidates[0][candidates[0] >= 0])
        scores, best = refine.rescore_one(self._float16_rows(found), queries[0], k)
        return scores[None, :], np.where(best >= 0, found[np.maximum(best, 0)], -1)[None, :]

    def scan_order(self) -> np.ndarray:
        """Catalog rows in the vector file's order: visiting rows so makes a self-join read the file in
        long spans, since near rows share lists."""
        if self.positions is None:
            return np.arange(len(self), dtype=np.int64)
        return np.argsort(self.positions, kind="stable").astype(np.int64)

    def _float16_rows(self, rows: np.ndarray) -> np.ndarray:
        if self._file is not None:
            return self._file.read(rows)
        return np.asarray(self.vectors[rows if self.positions is None else self.positions[rows]])

    def row_vectors(self, rows: np.ndarray) -> np.ndarray:
        """float32 vectors of the given rows, read from the vector file."""
        return refine.float32_rows(self._float16_rows(np.asarray(rows, dtype=np.int64)))


def with_refine(index: CompressedIndex | DeltaIndex, refine: int) -> CompressedIndex | DeltaIndex:
    """The same index (or an older one plus its delta) re-scoring `refine` candidates per hit: shallow for
    a self-join, or for a pool its caller re-scores itself."""
    if isinstance(index, CompressedIndex):
        return index.with_params(refine=refine)
    if isinstance(index.base, CompressedIndex):
        return index.with_base(index.base.with_params(refine=refine))
    return index


def within_rescore_budget(
    index: CompressedIndex | DeltaIndex, queries: int, k: int, budget: int
) -> CompressedIndex | DeltaIndex:
    """The index with its refine depth lowered (to 1 at least, never raised) so that `queries` searches
    for `k` candidates each re-score about `budget` rows in all: many probes at once (relevance feedback
    with hundreds of marks) each reading a full refine read millions of rows."""
    base = index if isinstance(index, CompressedIndex) else index.base
    if not isinstance(base, CompressedIndex):
        return index
    depth = max(1, min(base.refine, budget // max(1, queries * k)))
    return index if depth == base.refine else with_refine(index, depth)


def remove_other_versions(folder: Path, version: int) -> None:
    """Delete the files of every other version, and temporary files that killed writers left."""
    remove_dead_temporaries(folder)
    codes_name, vectors_name = file_names(version)
    codes = folder / codes_name
    keep = {codes_name, vectors_name, keys_path(codes).name, digest_path(codes).name}
    for prefix in (PQ_PREFIX, VECTORS_PREFIX):
        for stale in folder.glob(f"{prefix}*"):
            if stale.name not in keep and not stale.name.startswith("."):
                stale.unlink(missing_ok=True)


def sub_quantizers(dim: int) -> int:
    """One per 4 dimensions, or the largest even divisor of dim below that (PQ needs equal sub-vectors)."""
    most = max(2, dim // _DIMS_PER_SUB_QUANTIZER)
    return next((m for m in range(most, 1, -1) if dim % m == 0 and m % 2 == 0), 1)


def _write_vectors(batches: Iterable[np.ndarray], path: Path, n: int, dim: int) -> int:
    written = 0
    with path.open("wb") as out:
        for batch in batches:
            rows = np.asarray(batch).reshape(-1, dim)
            written += len(rows)
            if written > n:
                raise ValueError(f"expected {n} rows, read more")
            out.write(np.ascontiguousarray(rows, dtype=np.float16).tobytes())
        out.flush()
        os.fsync(out.fileno())
    return written


def _train(vectors: np.ndarray, seed: int) -> faiss.Index:
    n, dim = vectors.shape
    nlist = default_nlist(n)
    index = faiss.index_factory(dim, f"IVF{nlist},PQ{sub_quantizers(dim)}x4fs", faiss.METRIC_INNER_PRODUCT)
    ivf = faiss.extract_index_ivf(index)
    ivf.cp.niter = _KMEANS_ITERATIONS
    ivf.cp.min_points_per_centroid = _TRAIN_PER_LIST
    ivf.cp.seed = seed
    train_n = min(n, max(nlist * _TRAIN_PER_LIST, 65_536))
    sample_rows = np.sort(np.random.default_rng(seed).choice(n, size=train_n, replace=False))
    index.train(np.asarray(vectors[sample_rows], dtype=np.float32))
    return index


def _write_index(index: faiss.Index, path: Path) -> None:
    """Atomically, with its digest (saved_digest) written first: the codes decide which rows a search
    refines, so codes damaged in place would quietly lose the right answers."""
    tmp = temporary_path(path)
    try:
        faiss.write_index(index, str(tmp))
        write_digest(path, crc_of_file(tmp))
        tmp.replace(path)
    except RuntimeError as exc:  # FAISS reports an unwritable path (read-only, full disk) this way
        raise OSError(f"cannot write {path}: {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)
