"""Plain records and protocols shared across layers, so lower layers never import upper ones."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable

import numpy as np
from PIL import Image

from pixseek.locations import join_root

# What a query image may be; models.imageio.read_image decodes each (a uint8 pixel array too)
ImageInput = str | Path | Image.Image | bytes | bytearray | memoryview | np.ndarray | BinaryIO
# File suffixes (any case) read as images: by a folder walk, a listing, fine-tuning, int8 calibration.
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff", ".avif"})


@dataclass(frozen=True, slots=True)
class LoadedImage:
    """A decoded, preprocessed image ready for the model, plus its original size."""

    pixels: np.ndarray  # float32 (3, H, W) for the model's input
    width: int
    height: int
    content_hash: str | None = None  # of the bytes decoded, when the decoder fetched them itself


# A picklable callable that decodes and preprocesses one file (runs in worker processes).
ImageLoader = Callable[[Path], LoadedImage]


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One search result."""

    id: str
    path: str  # relative to its root
    score: float
    label: str | None = None
    root: str | None = None  # the indexed folder (or prefix) the image came from

    @property
    def full_path(self) -> str:
        """The image's own location: root joined with the relative path."""
        return join_root(self.root, self.path) if self.root else self.path

    def to_dict(self) -> dict[str, str | float | None]:
        """A result of `pixseek search --json`: id, root, path, score, label."""
        return {"id": self.id, "root": self.root, "path": self.path, "score": self.score, "label": self.label}


@runtime_checkable
class Embedder(Protocol):
    """What indexing, search, web and evaluation need from a model."""

    @property
    def name(self) -> str: ...

    @property
    def dim(self) -> int: ...

    @property
    def fingerprint(self) -> str:
        """Identity of weights + preprocessing; stored with every index to detect model changes."""
        ...

    @property
    def has_text(self) -> bool: ...

    def image_loader(self) -> ImageLoader: ...

    def embed_pixels(self, pixels: np.ndarray) -> np.ndarray:
        """(N, 3, H, W) float32 -> (N, D) float32, L2-normalised."""
        ...

    def embed_images(self, images: Sequence[ImageInput], *, batch_size: int | None = None) -> np.ndarray: ...

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray: ...
