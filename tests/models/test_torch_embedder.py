"""The torch backend (GPU path) gives the same embeddings as the ONNX path on the tiny fixture."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from pixseek.errors import ModelNotFoundError
from pixseek.models.embedder import OnnxEmbedder
from pixseek.models.torch_embedder import TorchClipEmbedder

FIXTURE = Path(__file__).parents[1] / "fixtures" / "tiny-clip"
IMAGES = sorted(p for p in (Path(__file__).parents[1] / "fixtures" / "images").iterdir() if p.suffix != ".md")
TEXTS = ["a cat", "", "A Photo of  a DOG!!", "ünïcödé ☃ " * 40]


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1)


@pytest.mark.torch
@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.gpu)])
def test_torch_matches_onnx(device: str) -> None:
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        pytest.skip("no CUDA device here")
    onnx = OnnxEmbedder.from_folder(FIXTURE)
    torch_emb = TorchClipEmbedder.from_pretrained(FIXTURE / "hf", folder=FIXTURE, device=device, half=False)
    assert torch_emb.dim == onnx.dim and torch_emb.has_text
    assert _cosines(torch_emb.embed_images(IMAGES), onnx.embed_images(IMAGES)).min() >= 0.9999
    assert _cosines(torch_emb.embed_texts(TEXTS), onnx.embed_texts(TEXTS)).min() >= 0.9999


@pytest.mark.torch
def test_loader_is_what_embed_images_uses() -> None:
    emb = TorchClipEmbedder.from_pretrained(FIXTURE / "hf", folder=FIXTURE, device="cpu")
    loaded = [emb.image_loader()(p) for p in IMAGES]
    via_pixels = emb.embed_pixels(np.stack([x.pixels for x in loaded]))
    np.testing.assert_allclose(via_pixels, emb.embed_images(IMAGES), atol=1e-6)
    assert all(x.width > 0 and x.height > 0 for x in loaded)


@pytest.mark.torch
def test_missing_cuda_is_a_clear_error() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ModelNotFoundError, match="CUDA"):
        TorchClipEmbedder.from_pretrained(FIXTURE / "hf", folder=FIXTURE, device="cuda")
