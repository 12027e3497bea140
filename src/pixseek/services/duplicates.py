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

from pixseek.errors import ImageReadError, QueryError
from pixseek.indexing.sources import ObjectStoreSource
from pixseek.locations import is_object_store, join_root
from pixseek.models.imageio import ImageSource
from pixseek.models.signature import COLOUR_GRID, DETAIL_GRID, GRID, SCALES, PixelSignature, pixel_signature
from pixseek.search import SearchMatrix
from pixseek.search.compressed import CompressedIndex, with_refine
from pixseek.search.delta import DeltaIndex
from pixseek.search.duplicates import (
    MAX_COLOUR_DIFFERENCE,
    MAX_LOCAL_DIFFERENCE,
    MAX_SHAPE_CHANGE,
    MIN_STRUCTURE,
    Pairs,
    aligned_similarity,
    colour_difference,
    groups_of,
    local_difference,
    neighbour_pairs,
    same_content_pairs,
    shape_difference,
    structure_agreement,
)
from pixseek.search.protocol import VectorIndex
from pixseek.types import SearchHit

Progress = Callable[[str, int, int], None]  # (stage: "neighbours", "pixels" or "details", done, total)
ReadOriginal = Callable[[int], ImageSource]  # a row's original file (a path, or its bytes)
# Past RAM, each row's neighbours are re-scored from the best 4 k by codes, not 50 k as for a user's query:
# near-duplicates sit at high cosine, where the codes already rank them first.
SELF_JOIN_REFINE = 4
_READ_CHUNK = 1024  # originals read per round
_INT8 = 127.0  # grids are stored as int8 with a scale per grid: 4 KB per image, not 16 KB of float32


@dataclass(frozen=True)
class DuplicateGroup:
    """Images that are the same picture; `min_score` is the weakest confirmed pair that joined them."""

    hits: list[SearchHit]  # score: the image's best confirmed pair in the group
    min_score: float

    @property
    def ids(self) -> list[str]:
        return [h.id for h in self.hits]


@dataclass(frozen=True)
class DuplicateReport:
    threshold: float
    groups: list[DuplicateGroup]
    proposed: int  # neighbour pairs given the pixel check
    unreadable: list[str] = field(default_factory=list)  # ids whose original could not be read
    seconds: float = 0.0
    detail_rejected: int = 0  # pairs that passed the threshold but differ in a detail, colour or shape

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of `pixseek duplicates --json` and GET /duplicates: per group, ids, roots and
        relative paths side by side (the path shape of search results)."""
        groups = [
            {
                "ids": g.ids,
                "roots": [h.root for h in g.hits],
                "paths": [h.path for h in g.hits],
                "min_score": g.min_score,
            }
            for g in self.groups
        ]
        return {
            "threshold": self.threshold,
            "groups": groups,
            "proposed_pairs": self.proposed,
            "detail_rejected": self.detail_rejected,
            "unreadable": self.unreadable,
            "seconds": round(self.seconds, 3),
        }


@dataclass
class _Signatures:
    """Signatures of some rows, by row: `slot[row]` is the row's place in the arrays, or -1 (unread)."""

    slot: np.ndarray
    grids: np.ndarray  # (R, S, D) int8
    scales: np.ndarray  # (R, S) float32: a grid is grids * scales
    means: np.ndarray
    flat: np.ndarray
    sizes: np.ndarray  # (R, 2) int64: width and height
    colour: np.ndarray | None = None  # (R, S, cells * 3) float32 chromaticity, when read with colour

    def similarity(self, pairs: Pairs) -> tuple[np.ndarray, np.ndarray]:
        """(score, readable) per pair; unreadable pairs score 0."""
        a, b = self.slot[pairs.first], self.slot[pairs.second]
        readable = (a >= 0) & (b >= 0)
        score = np.zeros(len(pairs), np.float32)
        for start in range(0, len(pairs), 16_384):  # a bounded float32 working set
            part = np.flatnonzero(readable[start : start + 16_384]) + start
            x, y = a[part], b[part]
            score[part] = aligned_similarity(
                self._floats(x),
                self._floats(y),
                a_mean=self.means[x],
                b_mean=self.means[y],
                a_flat=self.flat[x],
                b_flat=self.flat[y],
            )
        return score, readable

    def same_details(self, pairs: Pairs) -> np.ndarray:
        """Per pair, whether the two pictures (read at DETAIL_GRID, with colour) show no local difference
        past MAX_LOCAL_DIFFERENCE, local structure agreeing to MIN_STRUCTURE, no colour difference past
        MAX_COLOUR_DIFFERENCE and shapes within MAX_SHAPE_CHANGE; False where one is unreadable."""
        assert self.colour is not None, "detail signatures are read with colour"
        a, b = self.slot[pairs.first], self.slot[pairs.second]
        same = np.zeros(len(pairs), bool)
        readable = np.flatnonzero((a >= 0) & (b >= 0))
        for start in range(0, len(readable), 1024):  # 4 x 64 x 64 float32 grids: 64 KB a picture
            part = readable[start : start + 1024]
            x, y = a[part], b[part]
            first, second, flat = (
                self._floats(x),
                self._floats(y),
                {"a_flat": self.flat[x], "b_flat": self.flat[y]},
            )
            local = local_difference(first, second, **flat)
            structure = structure_agreement(first, second, **flat)
            colour = colour_difference(self.colour[x], self.colour[y])
            same[part] = (
                (local <= MAX_LOCAL_DIFFERENCE)
                & (structure >= MIN_STRUCTURE)
                & (colour <= MAX_COLOUR_DIFFERENCE)
                & (shape_difference(self.sizes[x], self.sizes[y]) <= MAX_SHAPE_CHANGE)
            )
        return same

    def _floats(self, slots: np.ndarray) -> np.ndarray:
        return self.grids[slots].astype(np.float32) * self.scales[slots][:, :, None]


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
) -> DuplicateReport:
    """Groups of near-duplicates among the rows of `m` (whose content hashes are `hashes`); `query_map`
    (an adapter's) maps each row's vector before it asks `index` for neighbours; rows ask in `order`
    (the vector file's, from `scan_order`) when given."""
    start = time.perf_counter()
    tick = (lambda stage: lambda done, total: progress(stage, done, total)) if progress else None
    queries = m.row_vectors if query_map is None else (lambda rows: query_map(m.row_vectors(rows)))
    proposed = neighbour_pairs(
        len(m), queries, index, k=neighbours, order=order, progress=tick("neighbours") if tick else None
    )
    exact = same_content_pairs(hashes)
    signatures = _read_signatures(
        np.unique(np.concatenate([proposed.first, proposed.second])),
        len(m),
        read,
        max_pixels=max_pixels,
        threads=threads,
        progress=tick("pixels") if tick else None,
    )
    score, readable = signatures.similarity(proposed)
    passed = proposed.where(readable & (score >= threshold), score)
    details = _read_signatures(
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
        detail_rejected=len(passed) - len(confirmed),
    )


def index_duplicates(
    m: SearchMatrix,
    hashes: np.ndarray,
    index: VectorIndex,
    *,
    threshold: float,
    neighbours: int,
    max_pixels: int,
    query_map: Callable[[np.ndarray], np.ndarray] | None,
    progress: Progress | None,
) -> DuplicateReport:
    """`find_duplicates` as Index.duplicates asks it (limits checked there, before anything is loaded):
    originals read from where each row was indexed, and past RAM the self-join's own refine depth and
    visiting order."""
    index, order = self_join_index(index)
    return find_duplicates(
        m, hashes, index, original_reader(m), threshold=threshold, neighbours=neighbours,
        max_pixels=max_pixels, query_map=query_map, order=order, progress=progress,
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


def original_reader(m: SearchMatrix) -> ReadOriginal:
    """A row's original: its path in a folder, or its bytes from the object store it was indexed from."""
    sources: dict[str, ObjectStoreSource] = {}
    lock = threading.Lock()

    def read(row: int) -> ImageSource:
        root, path = m.roots[row], m.paths[row]
        if not is_object_store(root):
            return Path(join_root(root, path))
        with lock:
            source = sources.get(root) or sources.setdefault(root, ObjectStoreSource(root))
        return source.read(path)

    return read


def _in(n: int, pairs: Pairs) -> np.ndarray:
    mask = np.zeros(n, bool)
    mask[pairs.first] = True
    mask[pairs.second] = True
    return mask


def _read_signatures(
    rows: np.ndarray,
    n: int,
    read: ReadOriginal,
    *,
    max_pixels: int,
    threads: int,
    progress: Callable[[int, int], None] | None,
    grid: int = GRID,
    colour: bool = False,
) -> _Signatures:
    """Signatures of `rows`, `grid` cells a side, read in threads (PIL releases the GIL while decoding); a
    file that cannot be read leaves its row unread (-1), and its pairs unconfirmed."""
    slot = np.full(n, -1, np.int64)
    grids = np.zeros((len(rows), len(SCALES), grid * grid), np.int8)
    scales = np.zeros((len(rows), len(SCALES)), np.float32)
    means = np.zeros(len(rows), np.float32)
    flat = np.zeros(len(rows), bool)
    sizes = np.ones((len(rows), 2), np.int64)
    chroma = np.zeros((len(rows), len(SCALES), COLOUR_GRID * COLOUR_GRID * 3), np.float32) if colour else None

    def one(row: int) -> PixelSignature | None:
        try:
            return pixel_signature(read(row), max_pixels=max_pixels, grid=grid, colour=colour)
        except (ImageReadError, OSError):
            return None

    with ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="pixseek-signature") as pool:
        for start in range(0, len(rows), _READ_CHUNK):  # a bounded number of reads in flight
            chunk = rows[start : start + _READ_CHUNK].tolist()
            for i, sig in enumerate(pool.map(one, chunk), start):
                if sig is not None:
                    slot[rows[i]] = i
                    peak = np.maximum(np.abs(sig.grids).max(axis=1), 1e-12)
                    grids[i] = np.round(sig.grids / peak[:, None] * _INT8).astype(np.int8)
                    scales[i] = peak / _INT8
                    means[i], flat[i], sizes[i] = sig.mean, sig.flat, sig.size
                    if chroma is not None and sig.colour is not None:
                        chroma[i] = sig.colour
            if progress is not None:
                progress(start + len(chunk), len(rows))
    return _Signatures(slot, grids, scales, means, flat, sizes, chroma)
