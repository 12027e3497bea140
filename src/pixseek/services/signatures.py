"""Pixel signatures of the rows a near-duplicate search must compare, read from their originals in threads
under a shared pixel budget, and the pairwise checks over them (services.duplicates uses both).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from pixseek.errors import ImageReadError
from pixseek.models.decode_budget import PixelBudget
from pixseek.models.imageio import ImageSource
from pixseek.models.signature import (
    COLOUR_GRID,
    CROPS,
    GRID,
    PixelSignature,
    pixel_signature,
    signature_pixels,
)
from pixseek.search.duplicates import (
    MAX_COLOUR_DIFFERENCE,
    MAX_LOCAL_DIFFERENCE,
    MAX_SHAPE_CHANGE,
    MIN_STRUCTURE,
    Pairs,
    aligned_similarity,
    colour_difference,
    local_difference,
    shape_difference,
    structure_agreement,
)

ReadOriginal = Callable[[int], ImageSource]  # a row's original file (a path, or its bytes)
_READ_CHUNK = 1024  # originals read per round
# Pairs compared at once, so each side's float32 grids stay bounded: len(CROPS) x 32 x 32 is 64 KB a
# picture, and len(CROPS) x 64 x 64 for the detail checks 256 KB: 67 MB a side either way
_PAIRS_AT_ONCE = 1024
_DETAIL_PAIRS_AT_ONCE = 256
_INT8 = 127.0  # grids are stored as int8 with a scale per grid, a quarter of float32


@dataclass
class Signatures:
    """Signatures of some rows, by row: `slot[row]` is the row's place in the arrays, or -1 (unread)."""

    slot: np.ndarray
    which: np.ndarray  # (R, S) int64: each crop's grid in `grids`; a picture's equal crops share one
    grids: np.ndarray  # (G, D) int8
    scales: np.ndarray  # (G,) float32: a grid is grids * scales
    means: np.ndarray
    flat: np.ndarray
    sizes: np.ndarray  # (R, 2) int64: width and height
    colour: np.ndarray | None = None  # (R, S, cells * 3) float32 chromaticity, when read with colour

    def similarity(self, pairs: Pairs) -> tuple[np.ndarray, np.ndarray]:
        """(score, readable) per pair; unreadable pairs score 0."""
        a, b = self.slot[pairs.first], self.slot[pairs.second]
        readable = (a >= 0) & (b >= 0)
        score = np.zeros(len(pairs), np.float32)
        for start in range(0, len(pairs), _PAIRS_AT_ONCE):  # a bounded float32 working set
            part = np.flatnonzero(readable[start : start + _PAIRS_AT_ONCE]) + start
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
        MAX_COLOUR_DIFFERENCE in hue and shapes within MAX_SHAPE_CHANGE; False where one is unreadable."""
        assert self.colour is not None, "detail signatures are read with colour"
        a, b = self.slot[pairs.first], self.slot[pairs.second]
        same = np.zeros(len(pairs), bool)
        readable = np.flatnonzero((a >= 0) & (b >= 0))
        for start in range(0, len(readable), _DETAIL_PAIRS_AT_ONCE):
            part = readable[start : start + _DETAIL_PAIRS_AT_ONCE]
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
        """(P, S, D) float32 grids of the rows in `slots`."""
        at = self.which[slots]
        return self.grids[at].astype(np.float32) * self.scales[at][:, :, None]


def read_signatures(
    rows: np.ndarray,
    n: int,
    read: ReadOriginal,
    *,
    max_pixels: int,
    threads: int,
    progress: Callable[[int, int], None] | None,
    grid: int = GRID,
    colour: bool = False,
) -> Signatures:
    """Signatures of `rows`, `grid` cells a side, read in threads (PIL releases the GIL while decoding) that
    share a pixel budget; a file that cannot be read leaves its row unread (-1), and its pairs unconfirmed."""
    slot = np.full(n, -1, np.int64)
    which = np.zeros((len(rows), len(CROPS)), np.int64)
    # room for 4 grids a picture: a large picture's shifted crops are its centred ones
    stored = _GridStore(grid * grid, capacity=4 * len(rows))
    means = np.zeros(len(rows), np.float32)
    flat = np.zeros(len(rows), bool)
    sizes = np.ones((len(rows), 2), np.int64)
    chroma = np.zeros((len(rows), len(CROPS), COLOUR_GRID * COLOUR_GRID * 3), np.float32) if colour else None

    budget = PixelBudget()

    def one(row: int) -> PixelSignature | None:
        try:
            source = read(row)
            with budget.held(signature_pixels(source, grid=grid)):
                return pixel_signature(source, max_pixels=max_pixels, grid=grid, colour=colour)
        except (ImageReadError, OSError):
            return None

    with ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="pixseek-signature") as pool:
        for start in range(0, len(rows), _READ_CHUNK):  # a bounded number of reads in flight
            chunk = rows[start : start + _READ_CHUNK].tolist()
            for i, sig in enumerate(pool.map(one, chunk), start):
                if sig is not None:
                    slot[rows[i]] = i
                    which[i] = stored.add(sig.grids)
                    means[i], flat[i], sizes[i] = sig.mean, sig.flat, sig.size
                    if chroma is not None and sig.colour is not None:
                        chroma[i] = sig.colour
            if progress is not None:
                progress(start + len(chunk), len(rows))
    grids, scales = stored.arrays()
    return Signatures(slot, which, grids, scales, means, flat, sizes, chroma)


class _GridStore:
    """Distinct grids as int8 with a scale each, in a buffer that grows by half when full."""

    def __init__(self, cells: int, *, capacity: int) -> None:
        self._grids = np.zeros((max(capacity, 1), cells), np.int8)
        self._scales = np.zeros(max(capacity, 1), np.float32)
        self._count = 0

    def add(self, grids: np.ndarray) -> np.ndarray:
        """Store one picture's (S, D) float grids, each distinct one once; returns where each went."""
        first: dict[bytes, int] = {}
        at = np.empty(len(grids), np.int64)
        for j, g in enumerate(grids):
            key = g.tobytes()
            if key not in first:
                first[key] = self._put(g)
            at[j] = first[key]
        return at

    def _put(self, grid: np.ndarray) -> int:
        if self._count == len(self._grids):
            more = max(len(self._grids) // 2, 1)
            self._grids = np.concatenate([self._grids, np.zeros((more, self._grids.shape[1]), np.int8)])
            self._scales = np.concatenate([self._scales, np.zeros(more, np.float32)])
        peak = max(float(np.abs(grid).max()), 1e-12)
        self._grids[self._count] = np.round(grid / peak * _INT8).astype(np.int8)
        self._scales[self._count] = peak / _INT8
        self._count += 1
        return self._count - 1

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        return self._grids[: self._count], self._scales[: self._count]
