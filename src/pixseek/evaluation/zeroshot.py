"""Zero-shot classification from class names: the nearest prompt embedding ("a photo of a {label}")."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from pixseek.types import Embedder

PROMPT = "a photo of a {label}"


def prompt_for(label: str, *, template: str = PROMPT) -> str:
    """Folder names to words: 'sea_lion' and 'sea-lion' -> 'a photo of a sea lion'."""
    words = re.sub(r"[_\-]+", " ", label).strip()
    return template.format(label=words)


class ZeroShotClassifier:
    """Predicts the class whose prompt embedding is most similar to the image; no training."""

    def __init__(self, embedder: Embedder, classes: Sequence[str], *, template: str = PROMPT) -> None:
        self.classes = np.asarray(list(classes), dtype=str)
        self.prompts = [prompt_for(c, template=template) for c in self.classes]
        self.text_vectors = np.asarray(embedder.embed_texts(self.prompts), dtype=np.float32)

    def predict(self, vectors: np.ndarray) -> np.ndarray:
        return self.classes[np.argmax(np.asarray(vectors, dtype=np.float32) @ self.text_vectors.T, axis=1)]


def skip_reason(embedder: Embedder | None) -> str | None:
    """Why zero-shot cannot run with this model, or None when it can."""
    if embedder is None:
        return "no model given"
    if not embedder.has_text:
        return f"model {embedder.name!r} has no text tower"
    return None
