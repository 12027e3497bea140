"""One catalog version held in memory: its rows' metadata, the float32 matrix (or, past RAM, a compressed
index over vectors left on disk), exact and ANN search, row lookup."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from pixseek.errors import QueryError
from pixseek.locations import Location
from pixseek.search.ann import IvfIndex, load_or_build
from pixseek.search.compressed import CompressedIndex, with_refine, within_rescore_budget
from pixseek.search.delta import READER_SLACK, DeltaIndex
from pixseek.search.exact import ExactIndex
from pixseek.search.filters import SearchFilter
from pixseek.search.rows import RowTable
from pixseek.types import SearchHit


def query_rows(vectors: object, dim: int, dtype: type[np.floating] = np.float32) -> np.ndarray:
    """Query vectors as a (n, dim) array of `dtype`: one vector or a 2-d array of them, finite numbers in
    that type's range, else a QueryError (numpy's own errors name no query, and a NaN row matched nothing
    and broke the answer)."""
    try:
        given = np.atleast_2d(np.asarray(vectors))
        if given.dtype != dtype:  # checked in float64, so a value past `dtype`'s range is named as such
            given = given.astype(np.float64)
    except (TypeError, ValueError):
        raise QueryError("query vectors must be numbers: one vector or an (n, dim) array") from None
    if given.ndim != 2:
        raise QueryError(f"query vectors must be one vector or an (n, dim) array, not {given.ndim}-d")
    if given.shape[1] != dim:
        raise QueryError(f"query vectors have dim {given.shape[1]}, the index has {dim}")
    if not np.isfinite(given).all():
        raise QueryError("query vectors must be finite numbers (a NaN or infinity was given)")
    with np.errstate(over="ignore"):
        rows = given.astype(dtype, copy=False)  # rows already of `dtype` (every search's) are not copied
    if not np.isfinite(rows).all():
        raise QueryError(f"query vectors hold numbers past {np.dtype(dtype).name}'s range; scale them down")
    return rows


class SearchMatrix:
    """Loaded once per catalog version; everything a query needs, with no I/O except the ANN files.

    Given `vectors`, searches are exact (or IVF-Flat with an ANN folder). Given `compressed` instead (a
    catalog past the compressed threshold), every search goes through that index, loaded or built on
    first use, and a row's vector is read from its file.
    """

    def __init__(
        self,
        *,
        version: int,
        rows: RowTable,
        vectors: np.ndarray | None,
        dim: int | None = None,
        compressed: Callable[..., CompressedIndex | DeltaIndex] | None = None,
        keys: Callable[[], np.ndarray] | None = None,
        delta_limit: int = 0,
    ) -> None:
        if (vectors is None) == (compressed is None):
            raise ValueError("give either the vectors or a compressed index, not both or neither")
        if vectors is not None:
            vectors.setflags(write=False)
        self.version = version
        self.rows = rows
        self.ids, self.roots, self.paths, self.labels = rows.ids, rows.roots, rows.paths, rows.labels
        self.vectors = vectors
        self.dim = vectors.shape[1] if vectors is not None else dim
        self._exact = ExactIndex(vectors) if vectors is not None else None
        self._compressed_source = compressed
        self._keys, self._delta_limit = keys, delta_limit  # for an older IVF-Flat plus a delta
        self._ann: IvfIndex | CompressedIndex | DeltaIndex | None = None
        self._ann_lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.ids)

    def row(self, id_or_path: str | Path) -> int:
        """Row of an id, a path relative to its root, or an absolute (or resolvable) path (see RowTable)."""
        return self.rows.row(id_or_path)

    def hit(self, row: int, score: float) -> SearchHit:
        return SearchHit(self.ids[row], self.paths[row], score, self.labels[row], self.roots[row])

    def hits(self, rows: Sequence[int], scores: Sequence[float]) -> list[SearchHit]:
        """Hits of several rows, each column read once."""
        if not len(rows):
            return []
        columns = (self.ids, self.paths, self.labels, self.roots)
        ids, paths, labels, roots = (column.take(rows) for column in columns)  # type: ignore[attr-defined]
        return [
            SearchHit(i, p, float(s), label, root)
            for i, p, s, label, root in zip(ids, paths, scores, labels, roots, strict=True)
        ]

    @property
    def exact(self) -> ExactIndex:
        """Exact search over the in-memory matrix (not past RAM: there, use `ann`)."""
        assert self._exact is not None, "a compressed matrix has no exact index in memory"
        return self._exact

    @property
    def compressed(self) -> bool:
        return self.vectors is None

    def ann(
        self, folder: Location | None, *, writer: bool = False
    ) -> IvfIndex | CompressedIndex | DeltaIndex:
        """The FAISS index of this version, loaded from `folder` or built there once (one thread builds;
        the others wait for it rather than build their own); the compressed index when there is one.
        Either may be an older version's index plus an exact delta (search.delta): the `writer` rebuilds
        past the delta bound, a reader only past READER_SLACK times it."""
        slack = 1 if writer else READER_SLACK
        with self._ann_lock:
            if self._ann is None:
                if self._compressed_source is not None:
                    self._ann = self._compressed_source(delta_slack=slack)
                else:
                    assert self.vectors is not None and folder is not None
                    self._ann = load_or_build(
                        self.vectors,
                        folder,
                        self.version,
                        keys=self._keys,
                        delta_limit=self._delta_limit,
                        delta_slack=slack,
                    )
            return self._ann

    def _compressed(self) -> CompressedIndex | DeltaIndex:
        index = self.ann(None)
        assert isinstance(index, CompressedIndex | DeltaIndex)
        return index

    def vector(self, row: int) -> np.ndarray:
        """The stored float32 vector of one row."""
        return self.row_vectors(np.array([row]))[0]

    def row_vectors(self, rows: np.ndarray) -> np.ndarray:
        """Stored float32 vectors of the given sorted rows (read from the vector file past RAM)."""
        if self.vectors is not None:
            return self.vectors[rows]
        return self._compressed().row_vectors(np.asarray(rows))

    def forget_ann(self) -> None:
        """Drop the loaded ANN index; the next `ann()` loads or builds it again."""
        with self._ann_lock:
            self._ann = None

    @property
    def ann_loaded(self) -> bool:
        return self._ann is not None

    @property
    def ann_delta(self) -> DeltaIndex | None:
        """The loaded ANN when it is an older version's index plus a delta, else None."""
        ann = self._ann
        return ann if isinstance(ann, DeltaIndex) else None

    def search(
        self,
        queries: np.ndarray,
        *,
        k: int,
        filters: SearchFilter | None = None,
        exclude_ids: Sequence[str] = (),
        ann_folder: Location | None = None,
    ) -> list[list[SearchHit]]:
        """Top-k per query row. With `ann_folder` (and no filter) FAISS answers; otherwise exact,
        over only the rows a filter allows. Past RAM, the compressed index answers, filtered or not."""
        found = self.search_rows(
            queries, k=k, filters=filters, exclude_ids=exclude_ids, ann_folder=ann_folder
        )
        return [self.hits(rows.tolist(), scores.tolist()) for rows, scores in found]

    def search_rows(
        self,
        queries: np.ndarray,
        *,
        k: int,
        filters: SearchFilter | None = None,
        exclude_ids: Sequence[str] = (),
        ann_folder: Location | None = None,
        refine: int | None = None,
        rescore_budget: int | None = None,
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """`search`'s answer as (rows, scores) per query, for a caller that re-scores rows itself; past RAM,
        re-scoring `refine` candidates per hit (default: the index's own setting; 1 when the caller's own
        re-score makes a deeper one wasted), or with `rescore_budget` about that many in all (see
        compressed.within_rescore_budget)."""
        queries = query_rows(queries, self.dim)
        excluded = set(exclude_ids)
        want = k + len(excluded)
        rows = self.rows.matching(filters)
        if self._exact is None:
            compressed = self._compressed() if refine is None else with_refine(self._compressed(), refine)
            if rescore_budget is not None:
                compressed = within_rescore_budget(compressed, len(queries), want, rescore_budget)
            scores, idx = compressed.search(queries, want, rows=rows)
        elif rows is None and ann_folder is not None:
            scores, idx = self.ann(ann_folder).search(queries, want)
        else:
            scores, idx = self._exact.search(queries, want, rows=rows)
        results = []
        for score_row, idx_row in zip(scores, idx, strict=True):
            rows_found, scores_found = idx_row[idx_row >= 0].astype(np.int64), score_row[idx_row >= 0]
            if excluded:  # one Arrow take for the ids, not a lookup per row (9 us each)
                ids = self.ids.take(rows_found.tolist())  # type: ignore[attr-defined]
                kept = np.array([i not in excluded for i in ids], dtype=bool)
                rows_found, scores_found = rows_found[kept], scores_found[kept]
            results.append((rows_found[:k], scores_found[:k]))
        return results
