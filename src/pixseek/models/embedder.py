"""OnnxEmbedder: a model folder on ONNX Runtime behind the Embedder protocol (no torch)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property, partial
from pathlib import Path
from typing import Any

import numpy as np

from pixseek.errors import ImageReadError, ModelFileError, TextNotSupportedError
from pixseek.models.imageio import read_image
from pixseek.models.preprocess import Preprocessor
from pixseek.models.session import OnnxSession
from pixseek.models.spec import ModelSpec
from pixseek.models.tokenizer import ClipTokenizer
from pixseek.settings import DEFAULT_MAX_IMAGE_PIXELS
from pixseek.types import ImageInput, LoadedImage

_ID_BYTES = 1 << 20  # the file fingerprint hashes the first MiB and the size: cheap, and enough


@dataclass(frozen=True, slots=True)
class ImageLoader:
    """Picklable path -> LoadedImage (decode with JPEG draft + preprocess); runs in worker processes."""

    preprocessor: Preprocessor
    max_pixels: int

    def __call__(self, source: Path | ImageInput) -> LoadedImage:
        decoded = read_image(source, max_pixels=self.max_pixels, draft_size=self.preprocessor.draft_size())
        if 0 in decoded.image.size:  # a PIL image made empty: no crop of it can be taken
            raise ImageReadError(str(getattr(source, "filename", "") or "<image>"), "an image with no pixels")
        return LoadedImage(self.preprocessor(decoded.image), decoded.width, decoded.height)


class OnnxEmbedder:
    """Image (and, where the model has one, text) embeddings: float32 (N, D), L2-normalised."""

    def __init__(
        self,
        folder: Path,
        spec: ModelSpec,
        *,
        threads: int | None = None,
        providers: Sequence[str] = ("CPUExecutionProvider",),
        int8: bool = False,
        max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS,
        batch_size: int = 32,
    ) -> None:
        self.folder = Path(folder)
        self.spec = spec
        self.batch_size = batch_size
        self._options: dict[str, Any] = {
            "threads": threads,
            "providers": tuple(providers),
            "int8": int8,
            "max_image_pixels": max_image_pixels,
            "batch_size": batch_size,
        }
        image_file = spec.image.file
        if int8:
            if spec.image.file_int8 is None:
                raise ModelFileError(
                    f"{self.folder}: model {spec.name!r} has no int8 image tower (file_int8)"
                )
            image_file = spec.image.file_int8
        self.image_path = self.folder / image_file
        self._preprocessor = Preprocessor(spec.image)
        self._image = OnnxSession(self.image_path, threads=threads, providers=providers)
        self._image.require(inputs=[spec.image.input_name], outputs=[spec.image.output_name])
        _check_dim(self._image, spec.image.output_name, spec.dim)
        self._max_pixels = max_image_pixels

    @classmethod
    def from_folder(
        cls,
        folder: str | Path,
        *,
        threads: int | None = None,
        providers: Sequence[str] = ("CPUExecutionProvider",),
        int8: bool = False,
        max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS,
        batch_size: int = 32,
    ) -> OnnxEmbedder:
        """Load a model folder (manifest + ONNX files); errors name the missing or bad file."""
        folder = Path(folder)
        return cls(
            folder,
            ModelSpec.load(folder),
            threads=threads,
            providers=providers,
            int8=int8,
            max_image_pixels=max_image_pixels,
            batch_size=batch_size,
        )

    def __reduce__(self) -> tuple[Any, tuple[()]]:
        """Pickles as 'reload this folder with these options' (ORT sessions cannot be pickled)."""
        return (partial(OnnxEmbedder.from_folder, self.folder, **self._options), ())

    # -- identity --------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def dim(self) -> int:
        return self.spec.dim

    @property
    def has_text(self) -> bool:
        return self.spec.has_text

    @cached_property
    def fingerprint(self) -> str:
        """Model name + preprocessing + the image graph's identity (first MiB and size)."""
        h = hashlib.sha256()
        with self.image_path.open("rb") as f:
            h.update(f.read(_ID_BYTES))
        h.update(str(self.image_path.stat().st_size).encode())
        return f"{self.spec.name}:{self.spec.preprocess_fingerprint()}:{h.hexdigest()[:12]}"

    # -- images ----------------------------------------------------------------------------------
    def image_loader(self) -> ImageLoader:
        return ImageLoader(self._preprocessor, self._max_pixels)

    def embed_pixels(self, pixels: np.ndarray) -> np.ndarray:
        """(N, 3, S, S) float32 -> (N, D); runs one by one when the graph is fixed at batch 1."""
        pixels = np.asarray(pixels, dtype=np.float32)
        if pixels.ndim != 4:
            raise ValueError(f"expected pixels of shape (N, 3, H, W), got {pixels.shape}")
        step = self._image.fixed_batch(self.spec.image.input_name) or self.batch_size
        name, output = self.spec.image.input_name, self.spec.image.output_name
        parts = [self._image.run(output, {name: chunk}) for chunk in _chunks(pixels, step)]
        return self._finish(parts, self._image)

    def embed_images(self, images: Sequence[ImageInput], *, batch_size: int | None = None) -> np.ndarray:
        """Paths, bytes, file objects, PIL images or uint8 pixel arrays -> (N, D). ImageReadError names the
        first unreadable input."""
        loader = self.image_loader()
        step = batch_size or self.batch_size
        parts = []
        for start in range(0, len(images), step):
            batch = [loader(item).pixels for item in images[start : start + step]]
            parts.append(self.embed_pixels(np.stack(batch)))
        return np.concatenate(parts) if parts else np.zeros((0, self.dim), np.float32)

    # -- text ------------------------------------------------------------------------------------
    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Texts -> (N, D); TextNotSupportedError when the model is image-only."""
        text = self.spec.text
        if text is None:
            raise TextNotSupportedError(
                f"model {self.spec.name!r} is image-only (no text tower): search it with an image, "
                "or use a CLIP model such as clip-vit-b32 for text queries"
            )
        if isinstance(texts, str):
            raise TypeError("embed_texts() takes a sequence of strings, not one string")
        session, tokenizer = self._text
        ids, mask = tokenizer.encode(texts)
        if session.dynamic_axis(text.input_ids_name, 1) and len(ids):
            # Padding after the last real token cannot change a causal text tower's output: drop it
            # (a short query then costs a fraction of the full 77-token context).
            width = max(int(mask.sum(axis=1).max()), 1)
            ids, mask = ids[:, :width], mask[:, :width]
        step = session.fixed_batch(text.input_ids_name) or self.batch_size
        parts = []
        for start in range(0, len(ids), step):
            feeds = {text.input_ids_name: ids[start : start + step]}
            if text.attention_mask_name and text.attention_mask_name in session.inputs:
                feeds[text.attention_mask_name] = mask[start : start + step]
            parts.append(session.run(text.output_name, feeds))
        return self._finish(parts, session)

    @cached_property
    def _text(self) -> tuple[OnnxSession, ClipTokenizer]:
        """Loaded on first text query: indexing never pays for the text tower."""
        text = self.spec.text
        assert text is not None
        opts = self._options
        session = OnnxSession(self.folder / text.file, threads=opts["threads"], providers=opts["providers"])
        session.require(inputs=[text.input_ids_name], outputs=[text.output_name])
        _check_dim(session, text.output_name, self.spec.dim)
        tokenizer = ClipTokenizer.from_file(self.folder / text.tokenizer, context_length=text.context_length)
        return session, tokenizer

    def _finish(self, parts: list[np.ndarray], session: OnnxSession) -> np.ndarray:
        if not parts:
            return np.zeros((0, self.dim), np.float32)
        out = np.concatenate(parts).astype(np.float32, copy=False)
        if out.ndim != 2 or out.shape[1] != self.dim:
            raise ModelFileError(
                f"{session.path}: output has shape {out.shape[1:]}, the manifest says dim {self.dim}"
            )
        return l2_normalise(out)


def l2_normalise(x: np.ndarray) -> np.ndarray:
    """Rows to unit length; all-zero rows stay zero instead of becoming NaN."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)


def _chunks(array: np.ndarray, step: int) -> Iterator[np.ndarray]:
    for start in range(0, len(array), step):
        yield array[start : start + step]


def _check_dim(session: OnnxSession, output: str, dim: int) -> None:
    """A static embedding width that disagrees with the manifest is a mismatched file."""
    shape = session.outputs[output].shape
    if len(shape) >= 2 and isinstance(shape[-1], int) and shape[-1] != dim:
        raise ModelFileError(
            f"{session.path}: output {output!r} has width {shape[-1]}, the manifest says dim {dim}"
        )
    if len(shape) not in (0, 2):
        raise ModelFileError(
            f"{session.path}: output {output!r} has shape {list(shape)}, expected (batch, {dim})"
        )
