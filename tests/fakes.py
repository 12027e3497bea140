"""Test doubles: a fast, deterministic embedder that honours the Embedder protocol."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np
from PIL import Image

from pixseek.errors import TextNotSupportedError
from pixseek.models.imageio import read_image
from pixseek.settings import DEFAULT_MAX_IMAGE_PIXELS
from pixseek.types import ImageInput, LoadedImage

if TYPE_CHECKING:
    from pixseek.services import Index

_SIDE = 8


@dataclass(frozen=True)
class FakeLoader:
    """Picklable loader: pixseek's real, safe decoder, then a shrink to 8x8 RGB."""

    max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS

    def __call__(self, path: Path | BinaryIO) -> LoadedImage:
        decoded = read_image(path, max_pixels=self.max_pixels)
        loaded = _to_loaded(decoded.image)
        return LoadedImage(pixels=loaded.pixels, width=decoded.width, height=decoded.height)


def _to_loaded(rgb: Image.Image) -> LoadedImage:
    small = rgb.resize((_SIDE, _SIDE), Image.Resampling.BILINEAR)
    pixels = np.asarray(small, dtype=np.float32).transpose(2, 0, 1) / 255.0
    return LoadedImage(pixels=pixels, width=rgb.width, height=rgb.height)


class FakeEmbedder:
    """Projects 8x8 thumbnails with a fixed random matrix; similar images get similar vectors.

    Text is embedded by hashing words into the same space, so text search is testable too.
    """

    def __init__(
        self,
        dim: int = 32,
        *,
        name: str = "fake",
        has_text: bool = True,
        max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS,
    ) -> None:
        self._max_pixels = max_pixels
        rng = np.random.default_rng(0)
        self._proj = rng.standard_normal((3 * _SIDE * _SIDE, dim)).astype(np.float32)
        self._dim = dim
        self._name = name
        self._has_text = has_text
        self.pixel_calls = 0  # how many images went through the "model"

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def fingerprint(self) -> str:
        return f"{self._name}-{self._dim}"

    @property
    def has_text(self) -> bool:
        return self._has_text

    def image_loader(self) -> FakeLoader:
        return FakeLoader(self._max_pixels)

    def embed_pixels(self, pixels: np.ndarray) -> np.ndarray:
        self.pixel_calls += len(pixels)
        flat = pixels.reshape(len(pixels), -1).astype(np.float32) - 0.5
        return _normalise(flat @ self._proj)

    def embed_images(self, images: Sequence[ImageInput], *, batch_size: int | None = None) -> np.ndarray:
        loaded = []
        for item in images:
            if isinstance(item, Image.Image):
                loaded.append(_to_loaded(item.convert("RGB")).pixels)
            else:  # the real decoder takes every other kind of image input
                loaded.append(self.image_loader()(item).pixels)  # type: ignore[arg-type]
        if not loaded:
            return np.zeros((0, self._dim), np.float32)
        return self.embed_pixels(np.stack(loaded))

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        if not self._has_text:
            raise TextNotSupportedError(f"model {self._name!r} has no text tower")
        out = np.zeros((len(texts), self._dim), np.float32)
        for i, text in enumerate(texts):
            for word in text.lower().split():
                seed = int.from_bytes(word.encode()[:8].ljust(8, b"\0"), "little")
                out[i] += np.random.default_rng(seed).standard_normal(self._dim)
            if not text.split():
                out[i, 0] = 1.0
        return _normalise(out)


def _normalise(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(norms, 1e-12)).astype(np.float32)


def flipping_adapter(db: Path | str, classes: tuple[str, ...] = ("art",)) -> None:
    """Store in the catalog at `db` an adapter for FakeEmbedder whose map sends every query q to -q
    (q + q A with A = -2 I): a search through it ranks the frozen order backwards."""
    from pixseek.catalog import AdapterRecord, Catalog

    dim = FakeEmbedder().dim
    record = AdapterRecord(
        "query-residual", FakeEmbedder().fingerprint, classes, len(classes), "2026-11-30T00:00:00+00:00",
        -2 * np.eye(dim, dtype=np.float32),
    )  # fmt: skip
    Catalog.open(db).set_adapter(record)


def fake_index(root: Path, paths: list[str]) -> Index:
    """An index at root/db of one generated image per relative path under root/imgs, by FakeEmbedder."""
    from pixseek.services import Index
    from tests.indexing.images import make_tree

    make_tree(root / "imgs", paths)
    index = Index(root / "db", embedder=FakeEmbedder())
    index.add(root / "imgs", workers=0)
    return index
