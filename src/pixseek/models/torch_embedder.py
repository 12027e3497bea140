"""CLIP on PyTorch (extra `[torch]`): the GPU path, sharing preprocessing and tokenizer with the ONNX path."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pixseek.errors import ModelNotFoundError, TextNotSupportedError
from pixseek.models.embedder import ImageLoader
from pixseek.models.preprocess import Preprocessor
from pixseek.models.spec import ModelSpec
from pixseek.models.tokenizer import ClipTokenizer
from pixseek.settings import DEFAULT_MAX_IMAGE_PIXELS
from pixseek.types import ImageInput

if TYPE_CHECKING:
    import torch


def _import_torch() -> Any:
    try:
        import torch
        import transformers
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ModelNotFoundError(
            'the torch backend needs the [torch] extra: pip install "pixseek[torch]"'
        ) from exc
    return torch, transformers


class TorchClipEmbedder:
    """A transformers CLIPModel on `device` (fp16 on CUDA), with the model folder's preprocessing."""

    def __init__(
        self,
        model: Any,
        spec: ModelSpec,
        *,
        tokenizer: ClipTokenizer | None,
        device: str,
        half: bool,
        max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS,
        batch_size: int = 256,
    ) -> None:
        torch, _ = _import_torch()
        self._torch = torch
        self._dtype = torch.float16 if half else torch.float32
        self._device = torch.device(device)
        self._model = model.to(self._device, dtype=self._dtype).eval()
        self._spec = spec
        self._tokenizer = tokenizer
        self._pre = Preprocessor(spec.image)
        self._max_pixels = max_image_pixels
        self._batch_size = batch_size

    @classmethod
    def from_pretrained(
        cls,
        checkpoint: str | Path,
        *,
        folder: Path,
        device: str = "cuda",
        half: bool | None = None,
        **kwargs: Any,
    ) -> TorchClipEmbedder:
        """Weights from a transformers checkpoint; preprocessing and tokenizer from a pixseek model folder."""
        torch, transformers = _import_torch()
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise ModelNotFoundError(f"device {device!r} requested but torch sees no CUDA device")
        spec = ModelSpec.load(folder)
        model = transformers.CLIPModel.from_pretrained(str(checkpoint))
        tokenizer = None
        if spec.text is not None:
            tokenizer = ClipTokenizer.from_file(
                folder / spec.text.tokenizer, context_length=spec.text.context_length
            )
        use_half = device.startswith("cuda") if half is None else half
        return cls(model, spec, tokenizer=tokenizer, device=device, half=use_half, **kwargs)

    @property
    def name(self) -> str:
        return self._spec.name

    @property
    def dim(self) -> int:
        return self._spec.dim

    @property
    def fingerprint(self) -> str:
        return f"{self._spec.name}:{self._spec.preprocess_fingerprint()}:torch"

    @property
    def has_text(self) -> bool:
        return self._tokenizer is not None

    @property
    def spec(self) -> ModelSpec:
        return self._spec

    def image_loader(self) -> ImageLoader:
        return ImageLoader(self._pre, self._max_pixels)

    def embed_pixels(self, pixels: np.ndarray) -> np.ndarray:
        torch = self._torch
        outs = []
        with torch.inference_mode():
            for start in range(0, len(pixels), self._batch_size):
                batch = torch.from_numpy(np.ascontiguousarray(pixels[start : start + self._batch_size]))
                batch = batch.to(self._device, dtype=self._dtype, non_blocking=True)
                outs.append(self._features(self._model.get_image_features(pixel_values=batch)))
        return _finish(outs, self.dim)

    def embed_images(self, images: Sequence[ImageInput], *, batch_size: int | None = None) -> np.ndarray:
        loader = self.image_loader()
        pixels = [loader(item).pixels for item in images]
        if not pixels:
            return np.zeros((0, self.dim), np.float32)
        return self.embed_pixels(np.stack(pixels))

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        if self._tokenizer is None:
            raise TextNotSupportedError(f"model {self.name!r} has no text tower; search by image instead")
        torch = self._torch
        ids, mask = self._tokenizer.encode(list(texts))
        with torch.inference_mode():
            out = self._model.get_text_features(
                input_ids=torch.from_numpy(ids).to(self._device),
                attention_mask=torch.from_numpy(mask).to(self._device),
            )
        return _finish([self._features(out)], self.dim)

    def _features(self, out: Any) -> torch.Tensor:
        # transformers 5 returns a ModelOutput whose pooler_output is the projected embedding.
        tensor = out if isinstance(out, self._torch.Tensor) else out.pooler_output
        return tensor.float()


def _finish(outs: list[Any], dim: int) -> np.ndarray:
    if not outs:
        return np.zeros((0, dim), np.float32)
    x = np.concatenate([o.cpu().numpy() for o in outs]).astype(np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
