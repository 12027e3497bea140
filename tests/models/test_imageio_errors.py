"""What read_image says when it cannot decode: exact reasons and labels per source, and what it closes."""

from __future__ import annotations

import gc
import io
import struct
import warnings
import zlib
from pathlib import Path

import pytest
from PIL import Image

from pixseek.errors import ImageReadError, ImageTooLargeError
from pixseek.models.imageio import read_image
from tests.models.conftest import PHOTO

LIMIT = 200_000_000


def _error(source: object, *, max_pixels: int = LIMIT) -> ImageReadError:
    with pytest.raises(ImageReadError) as info:
        read_image(source, max_pixels=max_pixels)  # type: ignore[arg-type]
    return info.value


def test_each_unreadable_file_gets_its_own_exact_reason_and_its_path(tmp_path: Path) -> None:
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    text = tmp_path / "notes.png"
    text.write_text("not pixels")
    loop = tmp_path / "loop.png"
    loop.symlink_to(tmp_path / "loop-back.png")
    (tmp_path / "loop-back.png").symlink_to(loop)
    cases = {
        empty: "empty file (0 bytes)",
        tmp_path: "is a directory, not an image file",
        tmp_path / "missing.png": "no such file",
        text: "not an image, or an unsupported image format",
        loop: "cannot read: Too many levels of symbolic links",
    }
    for path, reason in cases.items():
        error = _error(path)
        assert (error.path, error.reason) == (str(path), reason)


def test_empty_bytes_are_labelled_as_bytes() -> None:
    error = _error(b"")
    assert (error.path, error.reason) == ("<bytes>", "empty data (0 bytes)")


def test_a_stream_is_labelled_by_its_name_or_as_a_stream(tmp_path: Path) -> None:
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(PHOTO.read_bytes()[:20_000])
    with cut.open("rb") as named:
        assert _error(named).path == str(cut)
    assert _error(io.BytesIO(cut.read_bytes())).path == "<stream>"


def test_a_caller_s_stream_is_left_open() -> None:
    with PHOTO.open("rb") as stream:
        read_image(stream, max_pixels=LIMIT)
        assert not stream.closed  # the caller opened it, the caller closes it


def test_a_file_opened_by_path_is_closed() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        read_image(PHOTO, max_pixels=LIMIT)
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]


def test_the_pixel_limit_message_gives_both_numbers_and_the_setting() -> None:
    error = _error(PHOTO, max_pixels=640 * 427 - 1)
    assert isinstance(error, ImageTooLargeError)
    assert error.path == str(PHOTO)
    assert error.reason == (
        "640x427 = 273,280 pixels exceeds the limit of 273,279 "
        "(raise max_image_pixels / PIXSEEK_MAX_IMAGE_PIXELS to allow it)"
    )


def test_an_image_of_exactly_the_limit_is_allowed() -> None:
    assert read_image(PHOTO, max_pixels=640 * 427).image.size == (640, 427)


def test_an_opened_pil_image_is_labelled_by_its_file_and_reports_its_upright_size(tmp_path: Path) -> None:
    error = _error(Image.open(PHOTO), max_pixels=1000)
    assert isinstance(error, ImageTooLargeError) and error.path == str(PHOTO)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored 640x427, shown rotated: 427x640
    rotated = tmp_path / "rotated.jpg"
    Image.open(PHOTO).save(rotated, exif=exif)
    decoded = read_image(Image.open(rotated), max_pixels=LIMIT)
    assert (decoded.width, decoded.height) == (427, 640) == decoded.image.size


class _TooBigToLoad(Image.Image):
    """An image whose pixels cannot be allocated: load() runs out of memory."""

    def load(self):  # type: ignore[override]
        raise MemoryError


def test_running_out_of_memory_is_reported_as_too_large() -> None:
    image = _TooBigToLoad()
    image._size = (4, 4)
    image._mode = "RGB"
    error = _error(image)
    assert isinstance(error, ImageTooLargeError)
    assert (error.path, error.reason) == ("<image>", "not enough memory to decode this image")


def test_a_file_over_pils_warning_threshold_is_not_mistaken_for_a_non_image() -> None:
    """100 MP is over PIL's bomb *warning* (89.5 MP), under its error and under our limit: the warning
    is silenced while identifying, and the file is then read (and found short), not called 'not an image'."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", 10_000, 10_000, 8, 2, 0, 0, 0)  # a PNG claiming 100 MP, with no pixels
    error = _error(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"") + chunk(b"IEND", b""))
    assert not isinstance(error, ImageTooLargeError)
    assert error.reason.startswith("truncated file (")  # read, and found short
