"""Decode one image safely: header pixel limit, EXIF orientation, modes, alpha onto white, JPEG draft."""

from __future__ import annotations

import functools
import io
import os
import struct
import threading
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from pixseek.errors import ImageReadError, ImageTooLargeError
from pixseek.locations import expand_home, open_regular_file

# What a query or the loader reads: a path, encoded bytes, a file object, a PIL image, or an (H, W) or
# (H, W, 3|4) uint8 array of pixels, as numpy and OpenCV users hold a picture (OpenCV's are BGR: flip them)
ImageSource = str | Path | bytes | bytearray | memoryview | Image.Image | np.ndarray | BinaryIO
ACCEPTED = "a path, bytes, a binary file object, a PIL image or a uint8 pixel array"

# EXIF orientations 5-8 swap width and height.
_TRANSPOSING_ORIENTATIONS = frozenset({5, 6, 7, 8})
_EXIF_ORIENTATION = 0x0112
_WHITE = (255, 255, 255, 255)
# PIL's pixel limit is one process-wide value; lifting it for one load must not race another.
_PIL_LIMIT_LOCK = threading.Lock()
# The only formats PIL may open: those of types.IMAGE_EXTENSIONS (JPEG's opener also returns a camera's
# multi-picture MPO), and AVIF where this Pillow reads it (content is sniffed, whatever the name says).
# Other plugins are no use here and some decode at open, before any header check: an ICO holding a
# 30,000 x 30,000 PNG decoded it whole, past PIXSEEK_MAX_IMAGE_PIXELS.
_WANTED_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "GIF", "TIFF", "AVIF")


@functools.cache
def opened_formats() -> tuple[str, ...]:
    Image.init()
    return tuple(fmt for fmt in _WANTED_FORMATS if fmt in Image.OPEN)


# Errors PIL and its codecs raise for damaged files.
_DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, struct.error, zlib.error, IndexError, TypeError)


@dataclass(frozen=True, slots=True)
class DecodedImage:
    """An RGB image ready for preprocessing, and the full-resolution size the user sees (after EXIF)."""

    image: Image.Image
    width: int
    height: int


def open_image(
    source: ImageSource, *, max_pixels: int, draft_size: tuple[int, int] | None = None
) -> Image.Image:
    """Decode `source` to an RGB PIL image; see `read_image`."""
    return read_image(source, max_pixels=max_pixels, draft_size=draft_size).image


def read_image(
    source: ImageSource, *, max_pixels: int, draft_size: tuple[int, int] | None = None
) -> DecodedImage:
    """Decode `source` to RGB, keeping its original (oriented) size.

    `draft_size` (width, height) lets JPEG decode at 1/2, 1/4 or 1/8 scale while staying at least that
    large, which skips pixels preprocessing would throw away. Raises ImageTooLargeError when the header
    says width*height > max_pixels (before any pixel is decoded), ImageReadError for anything unreadable.
    """
    label = _label(source)
    source = _as_decodable(source, label)
    try:
        if isinstance(source, Image.Image):
            _check_pixels(label, source.size, max_pixels)
            width, height = _oriented_size(source)
            _load_within(
                source, max_pixels
            )  # a lazily opened image may still fail here; report it like a file
            return DecodedImage(_to_rgb(label, _exif_transpose(source)), width, height)
        fp, owned = _stream(source, label)
        try:
            return _decode(fp, label, max_pixels=max_pixels, draft_size=draft_size)
        finally:
            if owned:
                fp.close()
    except ImageReadError:
        raise
    except MemoryError as exc:
        raise ImageTooLargeError(label, "not enough memory to decode this image") from exc
    except _DECODE_ERRORS as exc:
        raise ImageReadError(label, _reason(exc)) from exc


def decoded_pixels(source: ImageSource, *, draft_size: tuple[int, int] | None = None) -> int:
    """How many pixels `read_image` with this `draft_size` will decode, from the header alone (a JPEG's
    reduced DCT scale included); 0 when the header cannot be read (the decode then fails on its own). For
    sharing a memory budget among threads before they decode."""
    label = _label(source)
    try:
        source = _as_decodable(source, label)
        if isinstance(source, Image.Image):
            return source.width * source.height
        fp, ours = _stream(source, label)
    except ImageReadError:
        return 0
    try:
        with _identify(fp, label) as im:
            if draft_size is not None and im.format == "JPEG":
                im.draft("RGB", _stored_draft_size(im, draft_size))  # sets the size; decodes nothing
            return im.width * im.height
    except (ImageReadError, OSError, SyntaxError, ValueError):
        return 0
    finally:
        if ours:
            fp.close()
        else:
            fp.seek(0)


def _decode(fp: BinaryIO, label: str, *, max_pixels: int, draft_size: tuple[int, int] | None) -> DecodedImage:
    with _identify(fp, label) as im:
        _check_pixels(label, im.size, max_pixels)  # header only: nothing decoded yet
        width, height = _oriented_size(im)
        if draft_size is not None and im.format == "JPEG":
            im.draft("RGB", _stored_draft_size(im, draft_size))
        _load_within(im, max_pixels)
        return DecodedImage(_to_rgb(label, _exif_transpose(im)), width, height)


def _load_within(im: Image.Image, max_pixels: int) -> None:
    """Decode the pixels. Some plugins (TIFF) re-check PIL's own, lower limit while loading, after ours
    has already passed the header; only then is PIL's limit lifted to ours, for this one load."""
    try:
        im.load()
    except Image.DecompressionBombError:
        with _PIL_LIMIT_LOCK:
            saved = Image.MAX_IMAGE_PIXELS
            Image.MAX_IMAGE_PIXELS = max(saved or 0, max_pixels)
            try:
                im.load()
            finally:
                Image.MAX_IMAGE_PIXELS = saved


def _as_decodable(source: object, label: str) -> str | Path | bytes | Image.Image | BinaryIO:
    """Byte buffers as bytes and pixel arrays as PIL images; anything unreadable is an ImageReadError
    naming what is accepted, not an AttributeError from deep inside PIL."""
    if isinstance(source, bytearray | memoryview):
        return bytes(source)
    if isinstance(source, np.ndarray):
        if source.size == 0:
            raise ImageReadError(label, f"a pixel array with no pixels, shape {source.shape}")
        if (
            source.dtype != np.uint8
            or source.ndim not in (2, 3)
            or (source.ndim == 3 and source.shape[2] not in (3, 4))
        ):
            raise ImageReadError(
                label,
                f"a pixel array must be uint8, (H, W) or (H, W, 3|4); got {source.dtype} {source.shape}",
            )
        return Image.fromarray(np.ascontiguousarray(source))
    if isinstance(source, str | Path | bytes | Image.Image) or callable(getattr(source, "read", None)):
        return source  # type: ignore[return-value]
    raise ImageReadError(label, f"is not an image: give {ACCEPTED} (got {type(source).__name__})")


def _label(source: object) -> str:
    if isinstance(source, str | Path):
        return str(source)
    if isinstance(source, bytes | bytearray | memoryview):
        return "<bytes>"
    if isinstance(source, np.ndarray):
        return "<array>"
    if isinstance(source, Image.Image):
        return getattr(source, "filename", "") or "<image>"
    if not callable(getattr(source, "read", None)):
        return f"<{type(source).__name__}>"
    return str(getattr(source, "name", "") or "<stream>")


def _stream(source: str | Path | bytes | BinaryIO, label: str) -> tuple[BinaryIO, bool]:
    """A readable stream and whether we must close it; clear reasons for missing/empty/unreadable files."""
    if isinstance(source, bytes):
        if not source:
            raise ImageReadError(label, "empty data (0 bytes)")
        return io.BytesIO(source), True
    if not isinstance(source, str | Path):
        return source, False
    path = expand_home(source)
    if path.is_dir():
        raise ImageReadError(label, "is a directory, not an image file")
    try:
        fp = open_regular_file(path)
        if os.fstat(fp.fileno()).st_size == 0:
            fp.close()
            raise ImageReadError(label, "empty file (0 bytes)")
        return fp, True
    except FileNotFoundError as exc:
        raise ImageReadError(label, "no such file") from exc
    except OSError as exc:
        raise ImageReadError(label, f"cannot read: {exc.strerror or exc}") from exc


def _identify(fp: BinaryIO, label: str) -> Image.Image:
    """Image.open (header only), without PIL's global pixel limit: we enforce our own right after."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            try:
                return Image.open(fp, formats=opened_formats())
            except Image.DecompressionBombError:
                return _open_without_pil_limit(fp, label)
    except UnidentifiedImageError as exc:
        raise ImageReadError(label, "not an image, or an unsupported image format") from exc
    except Image.DecompressionBombError as exc:  # a plugin that decodes while opening, past PIL's own limit
        raise ImageTooLargeError(label, f"too many pixels to open ({exc})") from exc


def _open_without_pil_limit(fp: BinaryIO, label: str) -> Image.Image:
    """Identify the format as Image.open does, minus its bomb check (ours runs right after)."""
    fp.seek(0)
    prefix = fp.read(16)
    for fmt in opened_formats():
        factory, accept = Image.OPEN[fmt]
        if accept is not None and not accept(prefix):
            continue
        fp.seek(0)
        try:
            return factory(fp, label)
        except (SyntaxError, IndexError, TypeError, struct.error):
            continue
    raise UnidentifiedImageError(f"cannot identify image file {label!r}")


def _check_pixels(label: str, size: tuple[int, int], max_pixels: int) -> None:
    width, height = size
    if width * height > max_pixels:
        raise ImageTooLargeError(
            label,
            f"{width}x{height} = {width * height:,} pixels exceeds the limit of {max_pixels:,} "
            "(raise max_image_pixels / PIXSEEK_MAX_IMAGE_PIXELS to allow it)",
        )


def _orientation(im: Image.Image) -> int:
    try:
        return int(im.getexif().get(_EXIF_ORIENTATION, 1))
    except Exception:  # a broken EXIF block must not lose the image
        return 1


def _oriented_size(im: Image.Image) -> tuple[int, int]:
    width, height = im.size
    return (height, width) if _orientation(im) in _TRANSPOSING_ORIENTATIONS else (width, height)


def _stored_draft_size(im: Image.Image, draft_size: tuple[int, int]) -> tuple[int, int]:
    """draft() works on stored pixels; a 90-degree EXIF rotation swaps what 'width' means."""
    width, height = draft_size
    return (height, width) if _orientation(im) in _TRANSPOSING_ORIENTATIONS else (width, height)


def _exif_transpose(im: Image.Image) -> Image.Image:
    if _orientation(im) == 1:
        return im  # upright already: exif_transpose would copy every pixel to change nothing
    try:
        return ImageOps.exif_transpose(im)
    except Exception:  # a broken EXIF block must not lose the image
        return im


def _to_rgb(label: str, im: Image.Image) -> Image.Image:
    """Any mode -> RGB: 16/32-bit greyscale rescaled, transparency flattened onto white."""
    if im.mode == "RGB" and im.info.get("transparency") is None:  # an RGB PNG may carry a tRNS colour key
        return im
    if im.mode in ("I", "I;16", "I;16L", "I;16B", "I;16N", "F"):
        return Image.fromarray(_wide_to_uint8(np.asarray(im)), "L").convert("RGB")
    if "A" in im.getbands() or "a" in im.getbands() or im.info.get("transparency") is not None:
        rgba = im.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", rgba.size, _WHITE), rgba).convert("RGB")
    try:
        return im.convert("RGB")
    except ValueError as exc:
        raise ImageReadError(label, f"cannot convert mode {im.mode} to RGB") from exc


def _wide_to_uint8(values: np.ndarray) -> np.ndarray:
    """16-bit and 32-bit greyscale to 8 bits: 0..65535 maps onto 0..255; floats in 0..1 likewise."""
    is_float = np.issubdtype(values.dtype, np.floating)
    values = values.astype(np.float64)
    top = float(values.max()) if values.size else 0.0
    if is_float and top <= 1.0:
        scaled = values * 255.0
    elif top > 255:
        scaled = values / 257.0
    else:
        scaled = values
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if "truncated" in text.lower():
        return f"truncated file ({text})"
    return f"corrupt or unreadable image ({type(exc).__name__}: {text})"
