"""A corpus of hostile image files, made by code: each case names what a safe decoder must answer.

    python -m tests.hostile.corpus DIR     # write the files (benchmarks/hostile_bench.py measures them)

Expected outcomes: "ok" (decodes to a vector), "too_large" (ImageTooLargeError, refused from the header or
when memory runs out), "unreadable" (ImageReadError). Never a crash, a hang or another exception.
"""

from __future__ import annotations

import io
import struct
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class Case:
    name: str  # the file name, extension included (some lie about their format on purpose)
    expect: str  # ok | too_large | unreadable; "ok|too_large" where memory decides
    make: Callable[[], bytes]


def _save(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def _noise(size: tuple[int, int], mode: str = "RGB", seed: int = 0) -> Image.Image:
    bands = len(Image.new(mode, (1, 1)).getbands())
    pixels = np.random.default_rng(seed).integers(0, 256, size=(size[1], size[0], bands), dtype=np.uint8)
    return Image.fromarray(pixels.squeeze(-1) if bands == 1 else pixels, None if bands > 1 else "L").convert(
        mode
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_claiming(width: int, height: int, idat: bytes = b"", color_type: int = 2) -> bytes:
    """A PNG whose header claims width x height over whatever IDAT follows."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def _zlib_bomb() -> bytes:
    """10,000 x 10,000 greyscale of zeros: a 100 MP image (within the default limit) in about 100 KB."""
    row = b"\x00" + b"\x00" * 10_000
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(10_000)) + compressor.flush()
    return _png_claiming(10_000, 10_000, idat, color_type=0)


def _palette_bomb() -> bytes:
    """A 1-bit palette PNG of 14,000 x 14,000 (196 MP): tiny on disk, 588 MB once made RGB."""
    image = Image.new("P", (14_000, 14_000), 0)
    image.putpalette([255, 0, 0, 0, 0, 255])
    return _save(image, "PNG", optimize=True, bits=1)


def _gif_claiming(width: int, height: int) -> bytes:
    header = b"GIF89a" + struct.pack("<HHBBB", width, height, 0, 0, 0)
    image = b"\x2c" + struct.pack("<HHHHB", 0, 0, width, height, 0) + b"\x02\x02\x44\x01\x00"
    return header + image + b"\x3b"


def _tiff_claiming(width: int, height: int) -> bytes:
    offset = 8 + 2 + 12 * 9 + 4  # the pixels follow the one IFD
    entries = [(256, 4, 1, width), (257, 4, 1, height), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1),
               (273, 4, 1, offset), (277, 3, 1, 1), (278, 4, 1, height), (279, 4, 1, 16)]  # fmt: skip
    ifd = struct.pack("<H", len(entries)) + b"".join(
        struct.pack("<HHII", tag, kind, count, value)
        if kind == 4
        else struct.pack("<HHIHH", tag, kind, count, value, 0)
        for tag, kind, count, value in entries
    )
    return b"II*\x00" + struct.pack("<I", 8) + ifd + b"\x00\x00\x00\x00" + b"\x00" * 16


def _gif_of_many_frames(frames: int) -> bytes:
    """Distinct 4 x 4 frames (identical ones would be merged by the encoder)."""
    images = [_noise((4, 4), seed=i).convert("P") for i in range(frames)]
    return _save(images[0], "GIF", save_all=True, append_images=images[1:], duration=1)


def _exif_orientation(value: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = value
    return _save(_noise((32, 24)), "JPEG", exif=exif.tobytes())


def _p_with_transparency() -> bytes:
    image = _noise((16, 16)).convert("P")
    return _save(image, "PNG", transparency=0)


CASES: list[Case] = [
    Case("ok-photo.jpg", "ok", lambda: _save(_noise((64, 48)), "JPEG")),
    Case("truncated.jpg", "unreadable", lambda: _save(_noise((640, 480)), "JPEG")[:2_000]),
    Case("truncated.png", "unreadable", lambda: _save(_noise((64, 48)), "PNG")[:300]),
    Case("wrong-magic.png", "unreadable", lambda: b"\x00\x01\x02\x03" + _save(_noise((8, 8)), "PNG")[4:]),
    Case("png-100k-by-100k.png", "too_large", lambda: _png_claiming(100_000, 100_000)),
    Case("gif-100k-by-100k.gif", "too_large", lambda: _gif_claiming(65_535, 65_535)),
    Case("tiff-100k-by-100k.tif", "too_large", lambda: _tiff_claiming(100_000, 100_000)),
    Case("zlib-bomb-100mp.png", "ok|too_large", _zlib_bomb),
    Case("palette-bomb-196mp.png", "ok|too_large", _palette_bomb),
    Case("gif-5000-frames.gif", "ok", lambda: _gif_of_many_frames(5_000)),
    Case("cmyk.jpg", "ok", lambda: _save(_noise((32, 24)).convert("CMYK"), "JPEG")),
    Case("sixteen-bit.png", "ok", lambda: _save(Image.fromarray(np.full((8, 8), 40_000, np.uint16)), "PNG")),
    Case("la.png", "ok", lambda: _save(_noise((16, 16)).convert("LA"), "PNG")),
    Case(
        "i16.tif",
        "ok",
        lambda: _save(Image.frombytes("I;16", (8, 8), (np.arange(64, dtype="<u2") * 900).tobytes()), "TIFF"),
    ),
    Case("p-transparency.png", "ok", _p_with_transparency),
    Case("exif-orientation-0.jpg", "ok", lambda: _exif_orientation(0)),
    Case("exif-orientation-9.jpg", "ok", lambda: _exif_orientation(9)),
    Case("exif-orientation-65535.jpg", "ok", lambda: _exif_orientation(65_535)),
    Case("webp-named.jpg", "ok", lambda: _save(_noise((32, 24)), "WEBP")),
    Case("avif-named.jpg", "ok", lambda: _save(_noise((32, 24)), "AVIF")),
    Case(
        "heic-named.jpg",
        "unreadable",
        lambda: b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64,
    ),
    Case("empty.png", "unreadable", lambda: b""),
    Case("text.jpg", "unreadable", lambda: b"this is not an image at all\n" * 10),
]


def write_corpus(folder: Path) -> dict[str, str]:
    """Write every case into `folder`; returns {file name: expected outcome}."""
    folder.mkdir(parents=True, exist_ok=True)
    for case in CASES:
        (folder / case.name).write_bytes(case.make())
    return {case.name: case.expect for case in CASES}


if __name__ == "__main__":
    print(len(write_corpus(Path(sys.argv[1]))), "files written to", sys.argv[1])
