"""Decoding details: wide greyscale scaling, draft size under EXIF rotation, exact failure reasons."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pixseek.errors import ImageReadError, ImageTooLargeError
from pixseek.models.imageio import read_image
from tests.models.conftest import PHOTO

LIMIT = 200_000_000


def _grey(values: list[float], mode: str) -> list[int]:
    """Decode a one-row image of `values` in PIL mode `mode`; the first channel of the RGB result."""
    dtype = np.float32 if mode == "F" else np.int32
    image = Image.fromarray(np.array([values], dtype=dtype), mode)
    rgb = np.asarray(read_image(image, max_pixels=LIMIT).image)
    assert (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all()
    return rgb[0, :, 0].tolist()


@pytest.mark.parametrize(
    ("mode", "values", "expected"),
    [
        ("F", [0.0, 0.25, 0.5, 0.75, 1.0], [0, 64, 128, 191, 255]),  # 0..1 spans 0..255: rint(x * 255)
        ("F", [-0.5, 0.0, 1.0], [0, 0, 255]),  # below 0 is clipped, not wrapped
        ("F", [0.0, 1.5], [0, 2]),  # over 1: already on the 0..255 scale
        ("F", [0.0, 100.0, 200.0], [0, 100, 200]),
        ("I", [0, 1], [0, 1]),  # integers are never taken for 0..1 floats
        ("I", [0, 7, 255], [0, 7, 255]),  # fits 8 bits: kept as is
        ("I", [0, 128, 256], [0, 0, 1]),  # over 255 (even just): 16-bit scale, / 257
        ("I", [0, 256, 65535], [0, 1, 255]),
        ("I", [0, 131070], [0, 255]),  # over 16 bits: clipped at 255, not wrapped
    ],
)
def test_wide_greyscale_maps_onto_eight_bits(mode: str, values: list[float], expected: list[int]) -> None:
    assert _grey(values, mode) == expected


def test_an_empty_wide_image_converts_without_failing_on_its_maximum() -> None:
    """Zero pixels have no maximum: the conversion must not call max() on them."""
    decoded = read_image(Image.new("I", (3, 0)), max_pixels=LIMIT)
    assert decoded.image.mode == "RGB" and decoded.image.size == (3, 0)


def test_draft_size_is_checked_against_the_upright_image(tmp_path: Path) -> None:
    """Stored 640x427 with EXIF 6 shows as 427x640. Asking for at least 300 wide x 100 high upright
    rules out the 1/2 scale (upright 214x320, too narrow), so the JPEG decodes at full size."""
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "portrait.jpg"
    Image.open(PHOTO).save(path, exif=exif, quality=90)
    decoded = read_image(path, max_pixels=LIMIT, draft_size=(300, 100))
    assert decoded.image.size == (427, 640)


def _png_claiming(width: int, height: int) -> bytes:
    """A PNG header claiming width x height RGB pixels, with an empty IDAT: far too little data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"") + chunk(b"IEND", b"")


def test_draft_size_needs_no_swap_for_an_upright_image() -> None:
    """No EXIF rotation: at least 100 wide x 300 high rules out 1/2 scale (320x214), so full size."""
    decoded = read_image(PHOTO, max_pixels=LIMIT, draft_size=(100, 300))
    assert decoded.image.size == (640, 427)


def test_a_file_over_pils_own_guard_is_identified_past_formats_that_reject_it(tmp_path: Path) -> None:
    """179.6 MP is over PIL's bomb error threshold (178,956,970) but within ours, so we identify the
    format ourselves. JPEG, tried first, rejects it and the search must go on to PNG: the file is then
    read and found short, not called 'not an image'."""
    path = tmp_path / "huge.png"
    path.write_bytes(_png_claiming(13_400, 13_400))
    with pytest.raises(ImageReadError) as info:
        read_image(path, max_pixels=LIMIT)
    assert not isinstance(info.value, ImageTooLargeError)
    assert info.value.reason.startswith("truncated file (")  # read, and found short


def _tiff_claiming(width: int, height: int) -> bytes:
    """A little-endian, uncompressed, one-strip 8-bit greyscale TIFF header, with 64 bytes of pixels."""
    tags = [(256, 4, width), (257, 4, height), (258, 3, 8), (259, 3, 1), (262, 3, 1)]
    tags += [(273, 4, 8 + 2 + 12 * 9 + 4), (277, 3, 1), (278, 4, height), (279, 4, width * height)]
    ifd = struct.pack("<H", len(tags))
    for tag, kind, value in tags:  # kind 3 = SHORT (padded to 4 bytes), 4 = LONG
        ifd += (
            struct.pack("<HHIHH", tag, kind, 1, value, 0)
            if kind == 3
            else struct.pack("<HHII", tag, kind, 1, value)
        )
    return b"II*\x00" + struct.pack("<I", 8) + ifd + struct.pack("<I", 0) + b"\x00" * 64


def test_a_tiff_over_pils_own_guard_decodes_within_our_limit(tmp_path: Path) -> None:
    path = tmp_path / "huge.tif"
    path.write_bytes(_tiff_claiming(13_400, 13_400))
    with pytest.raises(ImageReadError, match=r"truncated|corrupt"):  # 64 bytes of pixels: cut short
        read_image(path, max_pixels=LIMIT)


def test_a_truncated_file_reason_quotes_the_decoder(tmp_path: Path) -> None:
    path = tmp_path / "cut.jpg"
    path.write_bytes(PHOTO.read_bytes()[:20_000])
    with pytest.raises(ImageReadError) as info:
        read_image(path, max_pixels=LIMIT)
    assert info.value.reason.startswith("truncated file (image file is truncated")


class _Unloadable(Image.Image):
    """A lazily opened image whose pixels fail to load with a bare EOFError (no message)."""

    def load(self):  # type: ignore[override]
        raise EOFError


def test_an_error_without_a_message_is_named_by_its_type() -> None:
    image = _Unloadable()
    image._size = (4, 4)
    image._mode = "RGB"
    with pytest.raises(ImageReadError) as info:
        read_image(image, max_pixels=LIMIT)
    assert info.value.reason == "corrupt or unreadable image (EOFError: EOFError)"
    assert info.value.path == "<image>"


@pytest.mark.parametrize(
    ("mode", "raw"),
    [
        ("I;16", struct.pack("<3H", 0, 257, 65535)),
        ("I;16L", struct.pack("<3H", 0, 257, 65535)),
        ("I;16B", struct.pack(">3H", 0, 257, 65535)),
        ("I;16N", struct.pack("=3H", 0, 257, 65535)),
    ],
)
def test_every_16_bit_layout_is_scaled_not_clipped(mode: str, raw: bytes) -> None:
    """Little, big and native byte order alike: 0, 257, 65535 -> 0, 1, 255 (a plain convert would clip)."""
    image = Image.frombytes(mode, (3, 1), raw)
    rgb = np.asarray(read_image(image, max_pixels=LIMIT).image)
    assert rgb[0, :, 0].tolist() == [0, 1, 255]


def test_alpha_is_composited_onto_white_whatever_the_hidden_colour() -> None:
    """Transparent pixels become white even when their colour channels hold something else, and half
    transparency blends: black at alpha 128 over white is 255 * (1 - 128/255) = 127."""
    image = Image.new("RGBA", (3, 1))
    image.putdata([(10, 20, 30, 0), (0, 0, 0, 128), (10, 20, 30, 255)])
    rgb = np.asarray(read_image(image, max_pixels=LIMIT).image)
    assert rgb[0, 0].tolist() == [255, 255, 255]
    assert all(abs(int(v) - 127) <= 1 for v in rgb[0, 1])  # PIL rounds its integer blend
    assert rgb[0, 2].tolist() == [10, 20, 30]


def test_premultiplied_alpha_is_composited_onto_white_too() -> None:
    """RGBa (lower-case a: premultiplied) has an alpha band as well: transparent is white, not black."""
    image = Image.new("RGBa", (2, 1))
    image.putdata([(0, 0, 0, 0), (40, 50, 60, 255)])
    rgb = np.asarray(read_image(image, max_pixels=LIMIT).image)
    assert rgb[0].tolist() == [[255, 255, 255], [40, 50, 60]]


def test_an_rgb_png_colour_key_is_flattened_onto_white(tmp_path: Path) -> None:
    path = tmp_path / "keyed.png"
    image = Image.new("RGB", (2, 1), (10, 20, 30))
    image.putpixel((1, 0), (200, 100, 50))
    image.save(path, transparency=(10, 20, 30))  # tRNS: pixels of this colour are transparent
    assert Image.open(path).mode == "RGB"
    rgb = np.asarray(read_image(path, max_pixels=LIMIT).image)
    assert rgb[0].tolist() == [[255, 255, 255], [200, 100, 50]]
