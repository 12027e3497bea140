"""A pixel signature of the whole picture, for confirming near-duplicates the embedding proposes.

The embedding sees a centre crop, so two narrow stamps that differ only at their ends ("i" and "l") get
cosine 1.0. The signature keeps the whole image instead: small grey grids of the centred region at a few
scales, so a copy cropped by a few percent per side lines up with one of the other's scales. Pairs that pass
are checked again on finer grids (DETAIL_GRID), where one changed detail (a letter on a spinning top, the
value on a coin) shows as a local difference that the whole-grid correlation averages away.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from pixseek.models.imageio import ImageSource, read_image

GRID = 32  # cells per side of each grey grid
DETAIL_GRID = 64  # cells per side of the grids a confirmed pair is checked on again
SCALES = (1.0, 0.95, 0.9, 0.85)  # centred regions kept: a crop of up to ~7.5% per side lines up
FLAT_STD = 2.0  # grey levels: below this an image is flat (one colour), and compared by its mean


@dataclass(frozen=True)
class PixelSignature:
    """Zero-mean, unit-norm grey grids, one row per scale (whole image first), and the mean grey level
    (what a flat image is compared by)."""

    grids: np.ndarray  # (len(SCALES), grid * grid) float32
    mean: float
    flat: bool


def pixel_signature(source: ImageSource, *, max_pixels: int, grid: int = GRID) -> PixelSignature:
    """The signature of one image, `grid` cells a side; alpha is flattened onto white, as for the model.
    JPEGs decode at the smallest DCT scale still well above the grid."""
    draft = (4 * grid, 4 * grid)
    grey = read_image(source, max_pixels=max_pixels, draft_size=draft).image.convert("L")
    width, height = grey.size
    raw = []
    for scale in SCALES:
        margin_x, margin_y = width * (1 - scale) / 2, height * (1 - scale) / 2
        box = (margin_x, margin_y, width - margin_x, height - margin_y)
        raw.append(np.asarray(grey.resize((grid, grid), Image.Resampling.BOX, box=box), dtype=np.float32))
    whole = raw[0]  # SCALES[0] is 1.0: the whole picture, whose mean and spread say whether it is flat
    grids = []
    for cells in raw:
        grid = (cells - cells.mean()).ravel()
        norm = float(np.linalg.norm(grid))
        grids.append(grid / norm if norm > 0 else grid)
    return PixelSignature(np.stack(grids), float(whole.mean()), float(whole.std()) < FLAT_STD)
