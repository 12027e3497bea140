"""Decoding details the mutation run found unguarded: PIL's global limit is put back exactly, a load over
PIL's limit fails for its own reason, and a mode PIL cannot turn into RGB is named."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from pixseek.errors import ImageReadError
from pixseek.models.imageio import read_image
from tests.models.test_imageio_modes import _tiff_claiming

LIMIT = 200_000_000


def test_pils_global_limit_is_restored_after_lifting_it_for_one_load(tmp_path: Path) -> None:
    """179.6 MP: over PIL's error threshold (2 x 89,478,485), within ours. The load is retried with PIL's
    limit lifted, and fails for the file's own reason: 64 bytes of pixels, truncated. Afterwards PIL's
    process-wide limit is its old value again, not left lifted or disabled."""
    path = tmp_path / "huge.tif"
    path.write_bytes(_tiff_claiming(13_400, 13_400))
    before = Image.MAX_IMAGE_PIXELS
    assert before == 89_478_485  # Pillow's documented default: 1024 * 1024 * 1024 // 4 // 3
    with pytest.raises(ImageReadError) as info:
        read_image(path, max_pixels=LIMIT)
    assert info.value.reason.startswith("truncated file (image file is truncated")
    assert before == Image.MAX_IMAGE_PIXELS


class _NoRgbConversion(Image.Image):
    """An image PIL cannot convert to RGB; ValueError("conversion from ... not supported") is what PIL
    raises for a pair of modes it has no converter for."""

    def convert(self, mode=None, *args, **kwargs):  # type: ignore[override]
        raise ValueError(f"conversion from {self.mode} to {mode} not supported")


def test_a_mode_without_an_rgb_conversion_is_named_in_a_typed_error() -> None:
    image = _NoRgbConversion()
    image._size = (2, 2)
    image._mode = "HSV"  # no alpha band, so the plain conversion is tried
    with pytest.raises(ImageReadError) as info:
        read_image(image, max_pixels=LIMIT)
    assert (info.value.path, info.value.reason) == ("<image>", "cannot convert mode HSV to RGB")


def test_an_opened_tiff_over_pils_own_guard_is_loaded_within_our_limit(tmp_path: Path) -> None:
    """A caller opened the TIFF with PIL's guard lifted, then restored it: loading inside read_image must
    lift it again up to our limit. The file holds 64 bytes of a 13,400 x 13,400 image, so what remains is
    the decoder's own verdict, a truncated file, and not a failure of the limit arithmetic."""
    path = tmp_path / "huge.tif"
    path.write_bytes(_tiff_claiming(13_400, 13_400))
    saved = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        image = Image.open(path)
    finally:
        Image.MAX_IMAGE_PIXELS = saved
    with pytest.raises(ImageReadError) as info:
        read_image(image, max_pixels=200_000_000)
    assert "truncated" in info.value.reason and "TypeError" not in info.value.reason, info.value.reason
    assert saved == Image.MAX_IMAGE_PIXELS  # PIL's guard is back as it was
