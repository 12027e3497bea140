"""An ANN index built for an older catalog version, kept serving a newer one: rows it still holds are
searched through it, rows added or re-embedded since are searched exactly (the delta), and rows deleted
since are left out. New rows are searchable the moment their version is committed, and the costly
rebuild waits until the delta grows past a bound (`pixseek index` then rebuilds; `--rebuild-ann` forces).

Rows are matched across versions by a 64-bit key of (id, content hash): a row keeps its key through a
rename or a compaction, and gets a new one when its file is re-embedded.
"""

from __future__ import annotations

import copy
import hashlib
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import faiss
import numpy as np
import pyarrow as pa

from pixseek.search.exact import top_k
from pixseek.search.temporary_files import temporary_path

KEYS_SUFFIX = ".keys.npy"
DELTA_FRACTION = 0.1  # at most this share of the catalog may be delta (or deleted) before a rebuild
# A reader (a replica) that loads a version before the writer's rebuild lands serves the old index and the
# delta up to this many times the bound rather than build an index of its own.
READER_SLACK = 4


class BaseIndex(Protocol):
    """What a base ANN index offers: top-k over its own rows, optionally restricted or with rows left out."""

    def __len__(self) -> int: ...

    def search(
        self,
        queries: np.ndarray,
        k: int,
        *,
        rows: np.ndarray | None = None,
        dropped: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]: ...


def row_keys(batches: Iterable[tuple[pa.Array, pa.Array]]) -> np.ndarray:
    """uint64 key per row from (id, content hash) column batches, in row order."""
    keys = []
    for ids, hashes in batches:
        pairs = zip(ids.to_pylist(), hashes.to_pylist(), strict=True)
        keys.append(np.fromiter((_key(i, h) for i, h in pairs), dtype=np.uint64, count=len(ids)))
    return np.concatenate(keys) if keys else np.empty(0, dtype=np.uint64)


def _key(row_id: str, content_hash: str) -> int:
    digest = hashlib.blake2b(f"{row_id}\0{content_hash}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def keys_path(index_path: Path) -> Path:
    """Where the row keys of a saved index live: beside it, written before it."""
    return index_path.with_name(index_path.name.removesuffix(".faiss") + KEYS_SUFFIX)


def save_keys(keys: np.ndarray, path: Path) -> None:
    tmp = temporary_path(path)
    try:
        with tmp.open("wb") as out:
            np.save(out, np.asarray(keys, dtype=np.uint64))
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def load_keys(path: Path) -> np.ndarray | None:
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError):
        return None


def newest_saved(folder: Path, prefix: str, at_most: int) -> int | None:
    """The newest catalog version <= `at_most` with a saved `<prefix><version>.faiss` and its keys."""
    pattern = re.compile(rf"{re.escape(prefix)}(\d+)\.faiss")
    found = [
        int(m.group(1))
        for p in folder.glob(f"{prefix}*.faiss")
        if (m := pattern.fullmatch(p.name)) and int(m.group(1)) <= at_most and keys_path(p).is_file()
    ]
    return max(found, default=None)


@dataclass(frozen=True)
class RowMatch:
    """How a base index's rows line up with a newer version's rows."""

    to_current: np.ndarray  # per base row: its row in the current version, or -1 if gone
    base_of: np.ndarray  # per current row: its row in the base, or -1 if it is in the delta
    delta: np.ndarray  # sorted current rows the base lacks
    dropped: np.ndarray  # sorted base rows the current version lacks

    @property
    def changes(self) -> int:
        return len(self.delta) + len(self.dropped)


def match_rows(base_keys: np.ndarray, current_keys: np.ndarray) -> RowMatch:
    order = np.argsort(base_keys, kind="stable")
    ordered = base_keys[order]
    pos = np.minimum(np.searchsorted(ordered, current_keys), max(len(ordered) - 1, 0))
    found = ordered[pos] == current_keys if len(ordered) else np.zeros(len(current_keys), dtype=bool)
    row_type = np.int32 if max(len(base_keys), len(current_keys)) < 2**31 else np.int64
    base_of = np.where(found, order[pos], -1).astype(row_type)
    to_current = np.full(len(base_keys), -1, dtype=row_type)
    current_rows = np.flatnonzero(found)
    to_current[base_of[current_rows]] = current_rows
    return RowMatch(to_current, base_of, np.flatnonzero(~found), np.flatnonzero(to_current < 0))


def within_bound(match: RowMatch, rows: int, limit: int, *, slack: float = 1) -> bool:
    """Whether the base may keep serving: changes within `limit` rows and DELTA_FRACTION of the catalog
    (times `slack`)."""
    return match.changes <= slack * min(limit, DELTA_FRACTION * max(rows, 1))


class DeltaIndex:
    """A base index of an older version plus exact search over the delta; rows are the current version's."""

    def __init__(
        self, base: BaseIndex, match: RowMatch, delta_vectors: np.ndarray, *, base_version: int
    ) -> None:
        self.base = base
        self.match = match
        self.base_version = base_version
        self._delta_vectors = np.ascontiguousarray(delta_vectors, dtype=np.float16)  # as the catalog stores

    def __len__(self) -> int:
        return len(self.match.base_of)

    def with_base(self, base: BaseIndex) -> DeltaIndex:
        """The same delta over the same base, searched with other settings (CompressedIndex.with_params)."""
        other = copy.copy(self)
        other.base = base
        return other

    @property
    def delta_rows(self) -> int:
        return len(self.match.delta)

    def search(
        self, queries: np.ndarray, k: int, *, rows: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k over the current version's rows, or only over `rows` (sorted, from a filter)."""
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        m = self.match
        if rows is None:
            dropped = m.dropped if len(m.dropped) else None
            base_scores, base_idx = self.base.search(queries, k, dropped=dropped)
            delta_pick = np.arange(len(m.delta))
        else:
            base_rows = np.sort(m.base_of[rows][m.base_of[rows] >= 0]).astype(np.int64)
            base_scores, base_idx = self.base.search(queries, k, rows=base_rows)
            delta_pick = np.flatnonzero(np.isin(m.delta, rows, assume_unique=True))
        base_idx = np.where(base_idx >= 0, m.to_current[np.maximum(base_idx, 0)], -1)
        base_scores = np.where(base_idx >= 0, base_scores, -np.inf).astype(np.float32)
        delta_vectors = np.asarray(self._delta_vectors[delta_pick], dtype=np.float32)
        delta_scores, delta_idx = top_k(queries @ delta_vectors.T, k)
        if len(delta_pick):  # none when a version only deleted rows, or a filter allows no new row
            delta_idx = np.where(delta_idx >= 0, m.delta[delta_pick][np.maximum(delta_idx, 0)], -1)
        return top_k_merge(base_scores, base_idx, delta_scores, delta_idx, k)

    def current_order(self, base_order: np.ndarray) -> np.ndarray:
        """Current rows in `base_order` (base rows, e.g. CompressedIndex.scan_order), then the delta's."""
        current = self.match.to_current[base_order]
        return np.concatenate([current[current >= 0], self.match.delta]).astype(np.int64)

    def row_vectors(self, rows: np.ndarray) -> np.ndarray:
        """float32 vectors of current rows: from the base's vector file, or from the delta."""
        rows = np.asarray(rows, dtype=np.int64)
        out = np.empty((len(rows), self._delta_vectors.shape[1]), dtype=np.float32)
        in_base = self.match.base_of[rows]
        held = in_base >= 0
        if held.any():
            out[held] = self.base.row_vectors(in_base[held].astype(np.int64))  # type: ignore[attr-defined]
        if (~held).any():
            out[~held] = self._delta_vectors[np.searchsorted(self.match.delta, rows[~held])]
        return out


def top_k_merge(
    a_scores: np.ndarray, a_idx: np.ndarray, b_scores: np.ndarray, b_idx: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Merge two per-query top-k lists of disjoint rows into one, best first (ties by row)."""
    scores = np.concatenate([a_scores, b_scores], axis=1)
    idx = np.concatenate([a_idx, b_idx], axis=1)
    scores = np.where(idx >= 0, scores, -np.inf)
    order = np.lexsort((np.where(idx >= 0, idx, np.iinfo(np.int64).max), -scores), axis=1)[:, :k]
    out_scores = np.take_along_axis(scores, order, axis=1).astype(np.float32)
    out_idx = np.take_along_axis(idx, order, axis=1).astype(np.int64)
    out_idx[~np.isfinite(out_scores)] = -1
    if out_scores.shape[1] < k:
        pad = k - out_scores.shape[1]
        out_scores = np.pad(out_scores, ((0, 0), (0, pad)), constant_values=-np.inf)
        out_idx = np.pad(out_idx, ((0, 0), (0, pad)), constant_values=-1)
    return out_scores, out_idx


def ivf_params(
    nprobe: int, nlist: int, total: int, rows: np.ndarray | None, dropped: np.ndarray | None
) -> tuple[faiss.SearchParametersIVF, faiss.IDSelector | None]:
    """IVF search settings keeping only `rows`, or all but `dropped`, and the selector they point to (the
    caller holds it while searching). A restriction leaves fewer rows per list, so more lists are probed."""
    keep = None
    if rows is not None:
        keep = faiss.IDSelectorBatch(np.asarray(rows, dtype=np.int64))
        nprobe = math.ceil(nprobe * total / max(len(rows), 1))
    elif dropped is not None and len(dropped):
        keep = faiss.IDSelectorNot(faiss.IDSelectorBatch(np.asarray(dropped, dtype=np.int64)))
    return faiss.SearchParametersIVF(nprobe=min(nprobe, nlist), sel=keep), keep


def load_delta(
    base: BaseIndex,
    base_keys: np.ndarray,
    current_keys: Callable[[], np.ndarray],
    vectors_of: Callable[[np.ndarray], np.ndarray],
    *,
    base_version: int,
    limit: int,
    slack: float = 1,
) -> DeltaIndex | None:
    """`base` serving the current version, or None when the change since it is past the bound."""
    match = match_rows(base_keys, current_keys())
    if not within_bound(match, len(match.base_of), limit, slack=slack):
        return None
    return DeltaIndex(base, match, vectors_of(match.delta), base_version=base_version)
