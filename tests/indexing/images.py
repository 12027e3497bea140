"""Small, distinct, real image files for indexing tests (PNG/JPEG written by Pillow)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def write_image(path: Path, seed: int, *, size: tuple[int, int] = (24, 16)) -> Path:
    """A random-noise image whose content (and so its fake embedding) depends on `seed`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
    fmt = "JPEG" if path.suffix.lower() in {".jpg", ".jpeg"} else None
    Image.fromarray(pixels).save(path, format=fmt)
    return path


def make_tree(root: Path, paths: list[str], *, first_seed: int = 0) -> dict[str, Path]:
    """Write one distinct image per relative path; returns {relative path: absolute path}."""
    return {rel: write_image(root / rel, first_seed + i) for i, rel in enumerate(paths)}
