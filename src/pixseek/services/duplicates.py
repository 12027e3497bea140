"""Near-duplicate groups of one catalog version (`Index.duplicates`): the vector index proposes each
image's nearest neighbours, whole-picture pixel signatures confirm them, finer grids of the confirmed pairs'
pictures turn down those that differ in one detail, and exact copies join by content hash.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from numbers import Integral
from pathlib import Path
from typing import Any

import numpy as np

from pixseek.catalog import Catalog
from pixseek.errors import QueryError, SourceChangedError
from pixseek.indexing.sources import ObjectStoreSource
from pixseek.locations import is_object_store, join_root
from pixseek.models.imageio import ImageSource
from pixseek.models.signature import DETAIL_GRID
from pixseek.search import SearchMatrix
from pixseek.search.compressed import CompressedIndex, with_refine
from pixseek.search.delta import DeltaIndex
from pixseek.search.duplicates import (
    Pairs,
    groups_of,
    neighbour_pairs,
    same_content_pairs,
)
from pixseek.search.protocol import VectorIndex
from pixseek.services.signatures import ReadOriginal, read_signatures
from pixseek.types import SearchHit

Progress = Callable[[str, int, int], None]  # (stage: "neighbours", "pixels" or "details", done, total)
IsUnchanged = Callable[[int], bool]  # whether a row's file is still the one indexed (size and mtime)
# Past RAM, each row's neighbours are re-scored from the best 4 k by codes, not 50 k as for a user's query:
# near-duplicates sit at high cosine, where the codes already rank them first.
SELF_JOIN_REFINE = 4


@dataclass(frozen=True)
class DuplicateGroup:
    """Images that are the same picture; `min_score` is the weakest confirmed pair that joined them."""

    hits: list[SearchHit]  # score: the image's best confirmed pair in the group
    min_score: float

    @property
    def ids(self) -> list[str]:
        return [h.id for h in self.hits]

    def to_dict(self) -> dict[str, Any]:
        """One group of `pixseek duplicates --json`: ids, roots and relative paths side by side."""
        return {
            "ids": self.ids,
            "roots": [h.root for h in self.hits],
            "paths": [h.path for h in self.hits],
            "min_score": self.min_score,
        }


@dataclass(frozen=True)
class DuplicateReport:
    threshold: float
    groups: list[DuplicateGroup]
    proposed: int  # neighbour pairs given the pixel check
    unreadable: list[str] = field(default_factory=list)  # ids whose original could not be read
    seconds: float = 0.0
    detail_rejected: int = 0  # pairs that passed the threshold but differ in a detail, colour or shape
    # ids with an indexed copy whose file is gone or changed since it was indexed: the stored hash no longer
    # says what the file holds, so it joins no exact-copy group (a user might delete the only real copy)
    changed: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of `pixseek duplicates --json` and GET /duplicates: per group, ids, roots and
        relative paths side by side (the path shape of search results)."""
        groups = [g.to_dict() for g in self.groups]
        return {
            "threshold": self.threshold,
            "groups": groups,
            "proposed_pairs": self.proposed,
            "detail_rejected": self.detail_rejected,
            "unreadable": self.unreadable,
            "changed": self.changed,
            "seconds": round(self.seconds, 3),
        }


def find_duplicates(
    m: SearchMatrix,
    hashes: np.ndarray,
    index: VectorIndex,
    read: ReadOriginal,
    *,
    threshold: float,
    neighbours: int,
    max_pixels: int,
    threads: int = 4,
    query_map: Callable[[np.ndarray], np.ndarray] | None = None,
    order: np.ndarray | None = None,
    progress: Progress | None = None,
    is_unchanged: IsUnchanged | None = None,
) -> DuplicateReport:
    """Groups of near-duplicates among the rows of `m` (whose content hashes are `hashes`); `query_map`
    (an adapter's) maps each row's vector before it asks `index` for neighbours; rows ask in `order`
    (the vector file's, from `scan_order`) when given. With `is_unchanged`, rows sharing a hash are
    checked first, and those whose file is gone or changed join no exact-copy group."""
    start = time.perf_counter()
    tick = (lambda stage: lambda done, total: progress(stage, done, total)) if progress else None
    queries = m.row_vectors if query_map is None else (lambda rows: query_map(m.row_vectors(rows)))
    proposed = neighbour_pairs(
        len(m), queries, index, k=neighbours, order=order, progress=tick("neighbours") if tick else None
    )
    exact, stale = _current_copies(hashes, is_unchanged, threads)
    signatures = read_signatures(
        np.unique(np.concatenate([proposed.first, proposed.second])),
        len(m),
        read,
        max_pixels=max_pixels,
        threads=threads,
        progress=tick("pixels") if tick else None,
    )
    score, readable = signatures.similarity(proposed)
    passed = proposed.where(readable & (score >= threshold), score)
    details = read_signatures(
        np.unique(np.concatenate([passed.first, passed.second])),
        len(m),
        read,
        max_pixels=max_pixels,
        threads=threads,
        progress=tick("details") if tick else None,
        grid=DETAIL_GRID,
        colour=True,
    )
    confirmed = passed.where(details.same_details(passed))
    merged = Pairs(
        np.concatenate([exact.first, confirmed.first]),
        np.concatenate([exact.second, confirmed.second]),
        np.concatenate([exact.score, confirmed.score]),
    )
    best = np.zeros(len(m), np.float32)
    np.maximum.at(best, merged.first, merged.score)
    np.maximum.at(best, merged.second, merged.score)
    groups = [
        DuplicateGroup([m.hit(r, float(best[r])) for r in g.rows], round(g.min_score, 4))
        for g in groups_of(len(m), merged)
    ]
    unread = np.flatnonzero(
        ((signatures.slot < 0) & _in(len(m), proposed)) | ((details.slot < 0) & _in(len(m), passed))
    )
    return DuplicateReport(
        threshold,
        groups,
        len(proposed),
        [m.ids[r] for r in unread],
        time.perf_counter() - start,
        detail_rejected=int(_read_both(details.slot, passed).sum()) - len(confirmed),
        changed=[m.ids[r] for r in stale],
    )


def _current_copies(
    hashes: np.ndarray, is_unchanged: IsUnchanged | None, threads: int
) -> tuple[Pairs, list[int]]:
    """Exact-copy pairs among the rows whose files are as indexed, and the rows sharing a hash whose file is
    gone or changed (left out); one stat (or metadata request) per row that shares a hash, none for the
    rest, and the hashes sorted again only when some row was left out."""
    copies = same_content_pairs(hashes)
    if is_unchanged is None or not len(copies):
        return copies, []
    rows = np.unique(np.concatenate([copies.first, copies.second])).tolist()
    with ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="pixseek-stat") as pool:
        stale = [row for row, same in zip(rows, pool.map(is_unchanged, rows), strict=True) if not same]
    if not stale:
        return copies, []
    hashes = hashes.astype(object)  # a copy, each stale row's hash made its own
    for row in stale:
        hashes[row] = f"changed:{row}"
    return same_content_pairs(hashes), stale


def index_duplicates(
    m: SearchMatrix,
    catalog: Catalog,
    index: VectorIndex,
    *,
    threshold: float,
    neighbours: int,
    max_pixels: int,
    query_map: Callable[[np.ndarray], np.ndarray] | None,
    progress: Progress | None,
) -> DuplicateReport:
    """`find_duplicates` as Index.duplicates asks it (limits checked there, before anything is loaded):
    originals read from where each row was indexed, exact copies only while their files are as indexed
    (each row's content hash, size and mtime_ns, from `catalog` at `m`'s version), and past RAM the
    self-join's own refine depth and visiting order."""
    hashes, sizes, mtimes = (
        column.to_numpy(zero_copy_only=False)
        for column in catalog.columns(m.version, ["content_hash", "size", "mtime_ns"])
    )
    index, order = self_join_index(index)
    return find_duplicates(
        m, hashes, index, original_reader(m), threshold=threshold, neighbours=neighbours,
        max_pixels=max_pixels, query_map=query_map, order=order, progress=progress,
        is_unchanged=unchanged_checker(m, sizes, mtimes),
    )  # fmt: skip


def check_limits(threshold: float, neighbours: int) -> None:
    if not -1.0 <= threshold <= 1.0:
        raise QueryError(f"threshold must be from -1 to 1, got {threshold!r}")
    if isinstance(neighbours, bool) or not isinstance(neighbours, Integral) or not 1 <= neighbours <= 100:
        raise QueryError(f"neighbours must be an integer from 1 to 100, got {neighbours!r}")


def self_join_index(index: VectorIndex) -> tuple[VectorIndex, np.ndarray | None]:
    """The index the self-join asks, and in what order: past RAM, each row's neighbours are refined
    SELF_JOIN_REFINE deep, and rows ask in the vector file's order, so the refine reads it in long spans."""
    if isinstance(index, CompressedIndex | DeltaIndex):
        index = with_refine(index, SELF_JOIN_REFINE)
    if isinstance(index, CompressedIndex):
        return index, index.scan_order()
    if isinstance(index, DeltaIndex) and isinstance(index.base, CompressedIndex):
        return index, index.current_order(index.base.scan_order())
    return index, None


def unchanged_checker(m: SearchMatrix, sizes: np.ndarray, mtimes: np.ndarray) -> IsUnchanged:
    """Whether a row's file still has the size and modification time it was indexed with: a stat, or one
    metadata request to the object store it was indexed from; a file that is gone has changed."""
    source_of = _object_sources()

    def unchanged(row: int) -> bool:
        root, path, size, mtime = m.roots[row], m.paths[row], int(sizes[row]), int(mtimes[row])
        try:
            if not is_object_store(root):
                stat = Path(join_root(root, path)).stat()
                return stat.st_size == size and stat.st_mtime_ns == mtime
            source_of(root).check_unchanged(path, size=size, mtime_ns=mtime)
            return True
        except (OSError, SourceChangedError):
            return False

    return unchanged


def original_reader(m: SearchMatrix) -> ReadOriginal:
    """A row's original: its path in a folder, or its bytes from the object store it was indexed from."""
    source_of = _object_sources()

    def read(row: int) -> ImageSource:
        root, path = m.roots[row], m.paths[row]
        if not is_object_store(root):
            return Path(join_root(root, path))
        return source_of(root).read(path)

    return read


def _object_sources() -> Callable[[str], ObjectStoreSource]:
    """One ObjectStoreSource per indexed root, made on first use and shared by the reading threads."""
    sources: dict[str, ObjectStoreSource] = {}
    lock = threading.Lock()

    def source_of(root: str) -> ObjectStoreSource:
        with lock:
            return sources.get(root) or sources.setdefault(root, ObjectStoreSource(root))

    return source_of


def _read_both(slot: np.ndarray, pairs: Pairs) -> np.ndarray:
    """Per pair, whether both its pictures were read (a pair with an unreadable one is not a rejection)."""
    return (slot[pairs.first] >= 0) & (slot[pairs.second] >= 0)


def _in(n: int, pairs: Pairs) -> np.ndarray:
    mask = np.zeros(n, bool)
    mask[pairs.first] = True
    mask[pairs.second] = True
    return mask
