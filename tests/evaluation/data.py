"""Synthetic labelled embeddings: well-separated Gaussian blobs on the unit sphere."""

from __future__ import annotations

import numpy as np


def blobs(
    counts: dict[str, int], *, dim: int = 32, spread: float = 0.15, seed: int = 0
) -> tuple[np.ndarray, list[str], list[str]]:
    """(vectors, labels, paths) with one random centre per class."""
    rng = np.random.default_rng(seed)
    vectors, labels, paths = [], [], []
    for label, n in counts.items():
        centre = rng.standard_normal(dim)
        centre /= np.linalg.norm(centre)
        points = centre + spread * rng.standard_normal((n, dim)) / np.sqrt(dim)
        vectors.append(points)
        labels += [label] * n
        paths += [f"{label}/{i}.png" for i in range(n)]
    x = np.concatenate(vectors).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True), labels, paths
