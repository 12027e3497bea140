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
    GRID,
    SCALES,
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
_INT8 = 127.0  # grids are stored as int8 with a scale per grid: 4 KB per image, not 16 KB of float32


@dataclass
class Signatures:
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
    grids = np.zeros((len(rows), len(SCALES), grid * grid), np.int8)
    scales = np.zeros((len(rows), len(SCALES)), np.float32)
    means = np.zeros(len(rows), np.float32)
    flat = np.zeros(len(rows), bool)
    sizes = np.ones((len(rows), 2), np.int64)
    chroma = np.zeros((len(rows), len(SCALES), COLOUR_GRID * COLOUR_GRID * 3), np.float32) if colour else None

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
                    peak = np.maximum(np.abs(sig.grids).max(axis=1), 1e-12)
                    grids[i] = np.round(sig.grids / peak[:, None] * _INT8).astype(np.int8)
                    scales[i] = peak / _INT8
                    means[i], flat[i], sizes[i] = sig.mean, sig.flat, sig.size
                    if chroma is not None and sig.colour is not None:
                        chroma[i] = sig.colour
            if progress is not None:
                progress(start + len(chunk), len(rows))
    return Signatures(slot, grids, scales, means, flat, sizes, chroma)
