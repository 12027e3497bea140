"""A pixel signature of the whole picture, for confirming near-duplicates the embedding proposes.

The embedding sees a centre crop, so two narrow stamps that differ only at their ends ("i" and "l") get
cosine 1.0. The signature keeps the whole image instead: small grey grids of the centred region at a few
scales, so a copy cropped by a few percent per side lines up with one of the other's crops. A crop to
whole pixels moves the centre by up to half a pixel, a good part of a cell on a small picture (a 5% crop
of a 32 x 32 icon), so each scale is also kept at the four diagonal half-pixel shifts. Pairs that pass
are checked again on finer grids (DETAIL_GRID), where one changed detail (a letter on a spinning top, the
value on a coin) shows as a local difference that the whole-grid correlation averages away.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from pixseek.models.imageio import ImageSource, decoded_pixels, read_image

GRID = 32  # cells per side of each grey grid
DETAIL_GRID = 64  # cells per side of the grids a confirmed pair is checked on again
COLOUR_GRID = 4  # colour cells per side: coarse, so JPEG's halved colour resolution averages out
_CHROMA_DARK = 30.0  # added to R + G + B: near-black cells have no reliable hue
SCALES = (1.0, 0.95, 0.9, 0.85)  # centred regions kept: a crop of up to ~7.5% per side lines up
HALF_PIXEL_SHIFTS = ((0.0, 0.0), (-0.5, -0.5), (-0.5, 0.5), (0.5, -0.5), (0.5, 0.5))  # source pixels
# Every region a signature keeps, as (scale, x shift, y shift): the whole picture first, then each smaller
# scale centred and shifted. On planted Tux Paint copies the shifts lifted recall on all nine draws
# (mean 0.968 -> 0.985) at the same precision (docs/results.md).
CROPS = ((1.0, 0.0, 0.0), *((s, dx, dy) for s in SCALES[1:] for dx, dy in HALF_PIXEL_SHIFTS))
FLAT_STD = 2.0  # grey levels: below this an image is flat (one colour), and compared by its mean


@dataclass(frozen=True)
class PixelSignature:
    """Zero-mean, unit-norm grey grids, one row per crop (CROPS, whole image first), the mean grey level
    (what a flat image is compared by), the full-resolution size (what its shape is compared by) and, when
    asked for, coarse colour cells per crop."""

    grids: np.ndarray  # (len(CROPS), grid * grid) float32
    mean: float
    flat: bool
    size: tuple[int, int]  # (width, height) as the user sees it, after EXIF orientation
    colour: np.ndarray | None = None  # (len(CROPS), COLOUR_GRID ** 2 * 3) float32 chromaticity


def pixel_signature(
    source: ImageSource, *, max_pixels: int, grid: int = GRID, colour: bool = False
) -> PixelSignature:
    """The signature of one image, `grid` cells a side; alpha is flattened onto white, as for the model.
    JPEGs decode at the smallest DCT scale still well above the grid. With `colour`, each scale's
    COLOUR_GRID x COLOUR_GRID cells' chromaticity too: grey grids cannot tell a red flag from a green one."""
    decoded = read_image(source, max_pixels=max_pixels, draft_size=_draft(grid))
    rgb = decoded.image if decoded.image.mode == "RGB" else decoded.image.convert("RGB")  # no extra copy
    grey = rgb.convert("L")
    boxes = [_crop_box(grey.size, scale, *_shift(grey.size, scale, dx, dy, grid)) for scale, dx, dy in CROPS]
    resized: dict[tuple[float, ...], np.ndarray] = {}  # a shift too small to matter reuses the centred box
    for box in boxes:
        if box not in resized:
            resized[box] = np.asarray(grey.resize((grid, grid), Image.Resampling.BOX, box=box), np.float32)
    raw = [resized[box] for box in boxes]
    whole = raw[0]  # CROPS[0] is the whole picture, whose mean and spread say whether it is flat
    grids = []
    for cells in raw:
        centred = (cells - cells.mean()).ravel()
        norm = float(np.linalg.norm(centred))
        grids.append(centred / norm if norm > 0 else centred)
    chroma = None
    if colour:
        size = (COLOUR_GRID, COLOUR_GRID)
        by_scale = {  # half a pixel is nothing to a 4 x 4 cell: the centred box stands for every shift
            scale: np.asarray(
                rgb.resize(size, Image.Resampling.BOX, box=_crop_box(rgb.size, scale, 0, 0)), np.float32
            )
            for scale in SCALES
        }
        cells = [by_scale[scale] for scale, _, _ in CROPS]
        chroma = np.stack([(c / (c.sum(axis=2, keepdims=True) + _CHROMA_DARK)).ravel() for c in cells])
    flat = float(whole.std()) < FLAT_STD
    return PixelSignature(np.stack(grids), float(whole.mean()), flat, (decoded.width, decoded.height), chroma)


def signature_pixels(source: ImageSource, *, grid: int = GRID) -> int:
    """The pixels `pixel_signature` will decode for this source (header only): what a budget shared by
    reading threads counts."""
    return decoded_pixels(source, draft_size=_draft(grid))


def _draft(grid: int) -> tuple[int, int]:
    return (4 * grid, 4 * grid)  # a JPEG decodes at the smallest DCT scale still this large


def _shift(size: tuple[int, int], scale: float, dx: float, dy: float, grid: int) -> tuple[float, float]:
    """The shift itself, or none where it moves the crop by under a tenth of a grid cell (a picture more
    than 5 grids wide): the same cells, one resize fewer."""
    width, height = size
    small = abs(dx) * grid < 0.1 * width * scale and abs(dy) * grid < 0.1 * height * scale
    return (0.0, 0.0) if small else (dx, dy)


def _crop_box(size: tuple[int, int], scale: float, dx: float, dy: float) -> tuple[float, float, float, float]:
    """The centred region of `scale`, moved by (dx, dy) source pixels but never past the picture's edge."""
    width, height = size
    margin_x, margin_y = width * (1 - scale) / 2, height * (1 - scale) / 2
    dx, dy = max(-margin_x, min(dx, margin_x)), max(-margin_y, min(dy, margin_y))
    return (margin_x + dx, margin_y + dy, width - margin_x + dx, height - margin_y + dy)
