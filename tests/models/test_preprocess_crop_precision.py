"""Preprocessing details a parity test would catch only with torch installed: crop geometry, padding, float32.

Expected values are worked out by hand from transformers' rules (centre crop with top = (h - size) // 2,
zero padding of ceil(missing / 2) before the image, rescale in float64 then normalise in float32).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from pixseek.models.preprocess import Preprocessor, center_crop
from pixseek.models.spec import CLIP_MEAN, CLIP_STD, ImageTower


def _columns(width: int, height: int = 3) -> np.ndarray:
    """(height, width, 1) uint8 whose value is the column index."""
    return np.tile(np.arange(width, dtype=np.uint8)[None, :, None], (height, 1, 1))


def test_crop_takes_the_middle_columns() -> None:
    out = center_crop(_columns(10, height=4), 4)
    assert out[0, :, 0].tolist() == [3, 4, 5, 6]  # left = (10 - 4) // 2 = 3


def test_an_image_too_short_but_too_wide_is_padded_then_cropped() -> None:
    """Height 2 < 4 needs padding while width 10 > 4 needs cropping: both in one call."""
    pixels = _columns(10, height=2) + 10  # values 10..19 so padding zeros stand out
    out = center_crop(pixels, 4)
    assert out.shape == (4, 4, 1)
    # rows: pad ceil((4 - 2) / 2) = 1 on top; columns: crop from (10 - 4) // 2 = 3
    expected = np.zeros((4, 4, 1), np.uint8)
    expected[1:3, :, 0] = [13, 14, 15, 16]
    assert np.array_equal(out, expected)


def test_one_pixel_is_centred_with_the_larger_half_of_the_padding_first() -> None:
    out = center_crop(np.full((1, 1, 3), 7, np.uint8), 6)
    assert out.shape == (6, 6, 3) and out.dtype == np.uint8
    expected = np.zeros((6, 6, 3), np.uint8)
    expected[3, 3] = 7  # ceil((6 - 1) / 2) = 3 rows above, 3 columns left
    assert np.array_equal(out, expected)


def test_every_grey_level_normalises_exactly_as_transformers_in_float32() -> None:
    """All 256 uint8 levels, no resampling (squash to the same size): bit-identical float32 values."""
    levels = np.arange(256, dtype=np.uint8).reshape(16, 16)
    image = Image.fromarray(np.stack([levels] * 3, axis=-1))
    tower = ImageTower(file="x.onnx", size=16, resize="squash", crop="none", mean=CLIP_MEAN, std=CLIP_STD)
    out = Preprocessor(tower)(image)
    rescaled = (levels.astype(np.float64) / 255).astype(np.float32)
    for channel in range(3):
        mean, std = np.float32(CLIP_MEAN[channel]), np.float32(CLIP_STD[channel])
        expected = (rescaled - mean) / std  # float32 throughout
        assert expected.dtype == np.float32
        np.testing.assert_array_equal(out[channel], expected)
