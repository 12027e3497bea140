"""One catalog version held in memory: the float32 matrix, exact and ANN search over it, row lookup."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from pixseek.errors import AmbiguousPathError, QueryError
from pixseek.locations import Location, join_root
from pixseek.search.ann import IvfIndex, load_or_build
from pixseek.search.exact import ExactIndex
from pixseek.search.filters import SearchFilter, matching_rows
from pixseek.types import SearchHit


class SearchMatrix:
    """Loaded once per catalog version; everything a query needs, with no I/O except the ANN file."""

    def __init__(
        self,
        *,
        version: int,
        ids: list[str],
        roots: list[str],
        paths: list[str],
        labels: list[str | None],
        vectors: np.ndarray,
    ) -> None:
        vectors.setflags(write=False)
        self.version = version
        self.ids, self.roots, self.paths, self.labels = ids, roots, paths, labels
        self.vectors = vectors
        self._exact = ExactIndex(vectors)
        self._ann: IvfIndex | None = None
        self._ann_lock = threading.Lock()
        self._by_key: dict[str, int] = {}  # ids and full paths: unique
        self._by_relative: dict[str, list[int]] = {}  # one relative path may exist under several roots
        for i, (row_id, root, path) in enumerate(zip(ids, roots, paths, strict=True)):
            self._by_relative.setdefault(path, []).append(i)
            self._by_key[join_root(root, path)] = i
            self._by_key[row_id] = i

    def __len__(self) -> int:
        return len(self.ids)

    def row(self, id_or_path: str | Path) -> int:
        """Row of an id, a path relative to its root, or an absolute (or resolvable) path.

        A relative path held under several roots is an AmbiguousPathError listing them, never a guess.
        """
        key = str(id_or_path)
        row = self._by_key.get(key)
        relative = self._by_relative.get(key, []) if row is None else []
        if len(relative) > 1:
            matches = [join_root(self.roots[i], self.paths[i]) for i in relative]
            raise AmbiguousPathError(key, matches)
        if relative:
            row = relative[0]
        if row is None and Path(key).exists():
            row = self._by_key.get(str(Path(key).resolve()))
        if row is None:
            raise QueryError(f"{key!r} is neither an id nor an indexed path")
        return row

    def ann(self, folder: Location) -> IvfIndex:
        """The FAISS index of this version, loaded from `folder` or built there once (one thread builds;
        the others wait for it rather than build their own)."""
        with self._ann_lock:
            if self._ann is None:
                self._ann = load_or_build(self.vectors, folder, self.version)
            return self._ann

    @property
    def ann_loaded(self) -> bool:
        return self._ann is not None

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
        over only the rows a filter allows."""
        queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        if queries.shape[1] != self.vectors.shape[1]:
            dims = (queries.shape[1], self.vectors.shape[1])
            raise QueryError("query vectors have dim {}, the index has {}".format(*dims))
        excluded = set(exclude_ids)
        want = k + len(excluded)
        rows = matching_rows(filters, self.paths, self.labels)
        if rows is None and ann_folder is not None:
            scores, idx = self.ann(ann_folder).search(queries, want)
        else:
            scores, idx = self._exact.search(queries, want, rows=rows)
        results = []
        for score_row, idx_row in zip(scores, idx, strict=True):
            hits = [
                SearchHit(self.ids[i], self.paths[i], float(s), self.labels[i], self.roots[i])
                for s, i in zip(score_row, idx_row, strict=True)
                if i >= 0 and self.ids[i] not in excluded
            ]
            results.append(hits[:k])
        return results
