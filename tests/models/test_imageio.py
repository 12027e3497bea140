"""Image decoding: orientation, modes, transparency, animation, JPEG draft, pixel limit, bad files."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pixseek.errors import ImageReadError, ImageTooLargeError
from pixseek.models.imageio import open_image, read_image
from tests.models.conftest import PHOTO, STAMP

LIMIT = 200_000_000


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height, followed by a cut-off data stream (a bomb stand-in)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))


def test_jpeg_photo_decodes_to_rgb_at_full_size() -> None:
    decoded = read_image(PHOTO, max_pixels=LIMIT)
    assert decoded.image.mode == "RGB"
    assert decoded.image.size == (decoded.width, decoded.height) == (640, 427)


def test_draft_decodes_smaller_but_reports_the_original_size() -> None:
    decoded = read_image(PHOTO, max_pixels=LIMIT, draft_size=(100, 100))
    assert decoded.image.size == (160, 107)  # 1/4 scale: the smallest still >= 100 on both sides
    assert (decoded.width, decoded.height) == (640, 427)
    assert open_image(PHOTO, max_pixels=LIMIT, draft_size=(224, 224)).size == (640, 427)  # 1/2 too small


def test_draft_is_close_to_a_full_decode() -> None:
    full = open_image(PHOTO, max_pixels=LIMIT).resize((160, 107), Image.Resampling.BICUBIC)
    draft = open_image(PHOTO, max_pixels=LIMIT, draft_size=(100, 100))
    diff = np.abs(np.asarray(full, np.float32) - np.asarray(draft, np.float32))
    assert diff.mean() < 6


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_exif_orientation_is_applied(tmp_path: Path, orientation: int) -> None:
    base = Image.open(PHOTO).convert("RGB").resize((64, 40))
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / "rotated.png"
    base.save(path, exif=exif)
    expected = {3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_270, 8: Image.Transpose.ROTATE_90}
    decoded = read_image(path, max_pixels=LIMIT)
    assert np.array_equal(np.asarray(decoded.image), np.asarray(base.transpose(expected[orientation])))
    assert (decoded.width, decoded.height) == decoded.image.size


def test_exif_rotated_jpeg_reports_the_upright_size_with_draft(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "portrait.jpg"
    Image.open(PHOTO).save(path, exif=exif, quality=90)
    decoded = read_image(path, max_pixels=LIMIT, draft_size=(100, 100))
    assert (decoded.width, decoded.height) == (427, 640)
    assert decoded.image.size == (107, 160)


def test_transparency_is_flattened_onto_white() -> None:
    rgba = Image.open(STAMP)
    assert rgba.mode == "RGBA"
    alpha = np.asarray(rgba)[..., 3]
    rgb = np.asarray(open_image(STAMP, max_pixels=LIMIT))
    assert (rgb[alpha == 0] == 255).all()
    opaque = alpha == 255
    assert np.array_equal(rgb[opaque], np.asarray(rgba)[..., :3][opaque])


def test_palette_with_transparency_is_flattened_onto_white(tmp_path: Path) -> None:
    path = tmp_path / "palette.gif"
    palette = Image.new("P", (8, 8), 0)
    palette.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    palette.paste(1, (0, 0, 4, 8))
    palette.save(path, transparency=0)
    rgb = np.asarray(open_image(path, max_pixels=LIMIT))
    assert (rgb[:, :4] == [255, 0, 0]).all() and (rgb[:, 4:] == 255).all()


@pytest.mark.parametrize("mode", ["L", "LA", "P", "CMYK", "1"])
def test_other_modes_become_rgb_close_to_the_original(tmp_path: Path, mode: str) -> None:
    original = Image.open(PHOTO).convert("RGB").resize((80, 53))
    path = tmp_path / f"image.{'jpg' if mode == 'CMYK' else 'png'}"
    original.convert(mode).save(path, **({"quality": 95} if mode == "CMYK" else {}))
    rgb = open_image(path, max_pixels=LIMIT)
    assert rgb.mode == "RGB" and rgb.size == (80, 53)
    reference = np.asarray(original.convert(mode).convert("RGB"), np.float32)
    assert np.abs(np.asarray(rgb, np.float32) - reference).mean() < 3


def test_sixteen_bit_greyscale_is_scaled_not_clipped(tmp_path: Path) -> None:
    values = np.array([[0, 257, 32896, 65535]], dtype=np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(values).save(path)
    assert Image.open(path).mode.startswith("I")
    rgb = np.asarray(open_image(path, max_pixels=LIMIT))
    assert rgb[0, :, 0].tolist() == [0, 1, 128, 255]
    assert (rgb[..., 0] == rgb[..., 2]).all()


def test_first_frame_of_an_animation(tmp_path: Path) -> None:
    path = tmp_path / "anim.gif"
    frames = [Image.new("RGB", (10, 10), c) for c in ((255, 0, 0), (0, 0, 255))]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert Image.open(path).n_frames == 2
    rgb = np.asarray(open_image(path, max_pixels=LIMIT))
    assert (rgb == [255, 0, 0]).all()


def test_bytes_stream_and_pil_inputs_agree() -> None:
    data = PHOTO.read_bytes()
    from_path = np.asarray(open_image(PHOTO, max_pixels=LIMIT))
    assert np.array_equal(np.asarray(open_image(data, max_pixels=LIMIT)), from_path)
    assert np.array_equal(np.asarray(open_image(io.BytesIO(data), max_pixels=LIMIT)), from_path)
    assert np.array_equal(np.asarray(open_image(Image.open(PHOTO), max_pixels=LIMIT)), from_path)


def test_pixel_limit_is_checked_from_the_header_before_decoding(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_header_only(30_000, 30_000))  # 900 MP; decoding would fail, the check must not
    with pytest.raises(ImageTooLargeError) as info:
        open_image(path, max_pixels=LIMIT)
    assert "900,000,000 pixels" in info.value.reason and "200,000,000" in info.value.reason
    assert info.value.path == str(path)
    with pytest.raises(ImageTooLargeError):
        open_image(PHOTO, max_pixels=640 * 427 - 1)


def test_a_raised_limit_overrides_pils_own_bomb_guard(tmp_path: Path) -> None:
    path = tmp_path / "huge.png"
    path.write_bytes(_png_header_only(15_000, 15_000))  # 225 MP: over PIL's default error threshold
    with pytest.raises(ImageReadError) as info:
        open_image(path, max_pixels=300_000_000)
    assert not isinstance(info.value, ImageTooLargeError)  # got past both limits to the (cut) pixels
    assert "truncated" in info.value.reason or "corrupt" in info.value.reason


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty file"),
        (b"just some text, not pixels\n", "not an image"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "not an image"),
    ],
)
def test_unreadable_files_raise_a_clear_typed_error(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "bad.png"
    path.write_bytes(content)
    with pytest.raises(ImageReadError) as info:
        open_image(path, max_pixels=LIMIT)
    assert reason in info.value.reason and info.value.path == str(path)


def test_truncated_jpeg_names_the_problem(tmp_path: Path) -> None:
    path = tmp_path / "cut.jpg"
    path.write_bytes(PHOTO.read_bytes()[:20_000])
    with pytest.raises(ImageReadError, match="truncated"):
        open_image(path, max_pixels=LIMIT)


def test_a_truncated_pil_image_fails_like_a_file(tmp_path: Path) -> None:
    path = tmp_path / "cut.jpg"
    path.write_bytes(PHOTO.read_bytes()[:20_000])
    with pytest.raises(ImageReadError, match="truncated"):
        open_image(Image.open(path), max_pixels=LIMIT)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(ImageReadError, match="no such file"):
        open_image(tmp_path / "missing.jpg", max_pixels=LIMIT)
    with pytest.raises(ImageReadError, match="is a directory"):
        open_image(tmp_path, max_pixels=LIMIT)
    with pytest.raises(ImageReadError, match="empty data"):
        open_image(b"", max_pixels=LIMIT)


@pytest.mark.slow
def test_a_real_170_megapixel_png_loads_when_the_limit_allows(tmp_path: Path) -> None:
    width, height = 13_100, 13_000  # 170.3 MP
    rows = np.linspace(0, 255, height, dtype=np.uint8)[:, None]
    grey = np.broadcast_to(rows, (height, width))
    path = tmp_path / "panorama.png"
    Image.fromarray(np.ascontiguousarray(grey), "L").save(path, compress_level=1)
    decoded = read_image(path, max_pixels=200_000_000)
    assert (decoded.width, decoded.height) == (width, height) and decoded.image.mode == "RGB"
    with pytest.raises(ImageTooLargeError):
        read_image(path, max_pixels=100_000_000)


def test_a_pipe_or_device_is_refused_at_once_not_read(tmp_path: Path) -> None:
    """Opening a named pipe for reading blocks until a writer comes, and /dev/zero never ends: a file
    swapped for either after a scan listed it must fail at once, not hang the run."""
    import os
    import threading

    os.mkfifo(tmp_path / "pipe.png")
    (tmp_path / "zero.png").symlink_to("/dev/zero")
    errors: list[str] = []

    def read_both() -> None:
        for name in ("pipe.png", "zero.png"):
            with pytest.raises(ImageReadError) as caught:
                read_image(tmp_path / name, max_pixels=10**6)
            errors.append(caught.value.reason)

    reader = threading.Thread(target=read_both, daemon=True)
    reader.start()
    reader.join(timeout=10)
    assert not reader.is_alive(), "the read blocked"
    assert errors == ["cannot read: not a regular file (a pipe, socket or device)"] * 2


def _ico_holding(png: bytes) -> bytes:
    """An ICO file (header and one directory entry) around a PNG: PIL's ICO plugin decodes it at open."""
    return struct.pack("<HHH", 0, 1, 1) + struct.pack("<BBBBHHII", 0, 0, 0, 0, 1, 32, len(png), 22) + png


def test_only_the_indexed_formats_are_opened(tmp_path: Path) -> None:
    """An ICO (named .png) holding a 30,000 x 30,000 PNG was decoded whole while opening, past the pixel
    limit, and ended in PIL's DecompressionBombError traceback; formats outside IMAGE_EXTENSIONS are now
    not opened at all. A camera's multi-picture JPEG (MPO) still reads."""
    big = io.BytesIO()
    Image.new("L", (30_000, 30_000), 200).save(big, "PNG")
    (tmp_path / "bomb.png").write_bytes(_ico_holding(big.getvalue()))
    with pytest.raises(ImageReadError, match="not an image, or an unsupported image format"):
        read_image(tmp_path / "bomb.png", max_pixels=10**6)
    for fmt in ("ICO", "PPM", "TGA"):
        other = io.BytesIO()
        Image.new("RGB", (16, 16), (200, 0, 0)).save(other, fmt)
        with pytest.raises(ImageReadError, match="unsupported image format"):
            read_image(other.getvalue(), max_pixels=10**6)
    mpo = io.BytesIO()
    first, second = Image.new("RGB", (40, 30), (200, 0, 0)), Image.new("RGB", (40, 30), (0, 200, 0))
    first.save(mpo, "MPO", save_all=True, append_images=[second])
    decoded = read_image(mpo.getvalue(), max_pixels=10**6)
    assert (decoded.width, decoded.height) == (40, 30)
    assert np.asarray(decoded.image)[15, 20].tolist() == [200, 0, 0]  # the first picture
