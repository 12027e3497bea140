"""Training a query adapter on folder labels, in numpy (the core install has no torch).

The map q -> normalise(q + q A) is trained with a cosine-softmax loss (temperature 0.05) of each training
image, as a query, against the normalised class means of the frozen training vectors; weight decay pulls
A toward 0 (the identity map), and training stops when the loss on a stratified validation fifth stops
falling, keeping the best A. The decay was chosen in benchmarks/adapt_study.py (docs/results.md): weaker
decay gained more on seen classes and lost more on unseen ones (a faster variant lost 0.3 mAP@10 there).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import train_test_split

from pixseek.errors import QueryError
from pixseek.search.adapter import QUERY_RESIDUAL as METHOD

TEMPERATURE = 0.05
DECAY = 3e-3  # of 1e-3, 3e-3 and 1e-2: the most seen-class gain with unseen classes within -0.01
LEARNING_RATE = 2e-3  # Adam; 1e-3 took a third longer on Fashion-MNIST for the same figures (docs/results.md)
MAX_EPOCHS = 300
PATIENCE = 10  # epochs without a better validation loss before stopping
MIN_IMPROVEMENT = 1e-4
VALIDATION_SHARE = 0.2


@dataclass(frozen=True)
class TrainedMap:
    """A trained adapter as stored: see search.adapter.QueryAdapter for what `matrix` holds per method."""

    matrix: np.ndarray  # query-residual: A, (dim, dim) float32
    classes: tuple[str, ...]
    trained_on: int
    epochs: int  # optimiser passes
    validation_loss: float | None  # query-residual's early stopping; None where nothing is held out
    method: str = METHOD
    strength: float = 0.0
    neighbours: int = 0  # class-posterior's smoothing (search.adapter.QueryAdapter)
    mix: float = 0.0


def usable_classes(vectors: np.ndarray, labels: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(vectors, class codes, class names) of the classes with two images or more, which every adapter
    needs; fewer than two such classes is a QueryError, since there is nothing to separate."""
    x = np.asarray(vectors, dtype=np.float32)
    y = np.asarray(labels, dtype=object)
    names, counts = np.unique(y, return_counts=True)
    usable = names[counts >= 2]
    if len(usable) < 2:
        raise QueryError("adapting needs at least two labelled folders with two images each")
    keep = np.isin(y, usable)
    return x[keep], np.searchsorted(usable, y[keep]), usable


def train_query_map(vectors: np.ndarray, labels: list[str], *, seed: int = 0) -> TrainedMap:
    """Fit A on labelled vectors. Classes need two images each (one may go to validation)."""
    x, codes, usable = usable_classes(vectors, labels)
    val_share = max(VALIDATION_SHARE, len(usable) / len(codes))  # at least one validation image per class
    train, val = train_test_split(
        np.arange(len(codes)), test_size=min(val_share, 0.5), stratify=codes, random_state=seed
    )
    centres = np.stack([x[train][codes[train] == c].mean(0) for c in range(len(usable))])
    centres /= np.maximum(np.linalg.norm(centres, axis=1, keepdims=True), 1e-12)
    a, epochs, best_loss = _adam(x[train], codes[train], x[val], codes[val], centres)
    return TrainedMap(a, tuple(str(c) for c in usable), len(codes), epochs, best_loss)


def _adam(
    x: np.ndarray, y: np.ndarray, x_val: np.ndarray, y_val: np.ndarray, centres: np.ndarray
) -> tuple[np.ndarray, int, float]:
    dim = x.shape[1]
    a = np.zeros((dim, dim), dtype=np.float32)
    m, v = np.zeros_like(a), np.zeros_like(a)
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    best, best_a, waited, epoch = np.inf, a.copy(), 0, 0
    for epoch in range(1, MAX_EPOCHS + 1):
        grad = _gradient(a, x, y, centres) + 2 * DECAY * a
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * grad * grad
        a -= LEARNING_RATE * (m / (1 - beta1**epoch)) / (np.sqrt(v / (1 - beta2**epoch)) + eps)
        val = loss(a, x_val, y_val, centres)
        if val < best - MIN_IMPROVEMENT:
            best, best_a, waited = val, a.copy(), 0
        else:
            waited += 1
            if waited >= PATIENCE:
                break
    return best_a, epoch, float(best)


def _logits(
    a: np.ndarray, x: np.ndarray, centres: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shifted logits (row max 0) of the adapted queries against the class means; the unnormalised
    adapted queries u = x + xA, their norms, and their cosines to the means. u is never divided out: at
    1,280 dimensions each pass over an (N, D) array cost a quarter of the matrix product, so per-row
    scalars carry the norm instead."""
    u = x @ a
    u += x
    norms = np.maximum(np.sqrt(np.einsum("nd,nd->n", u, u)), 1e-12)
    cosines = (u @ centres.T) / norms[:, None]
    logits = cosines / TEMPERATURE
    return logits - logits.max(axis=1, keepdims=True), u, norms, cosines


def loss(a: np.ndarray, x: np.ndarray, y: np.ndarray, centres: np.ndarray) -> float:
    """Mean cross-entropy of the adapted queries against the class means (no decay term), by log-sum-exp:
    at temperature 0.05 a wrong class's probability can be far below any epsilon added to a log."""
    logits = _logits(a, x, centres)[0]
    log_norm = np.log(np.exp(logits).sum(axis=1))
    return float(np.mean(log_norm - logits[np.arange(len(y)), y]))


def _gradient(a: np.ndarray, x: np.ndarray, y: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """d loss / d A, by the chain rule through the softmax, the normalisation and the residual map.

    With z = u/|u| and g = dL/dz = P C / T (P: softmax minus one-hot, over N), dL/du = (g - z (z.g)) / |u|,
    so x^T dL/du = (x^T (P / (T |u|))) C - x^T (u (z.g) / |u|^2): one (D, N) x (N, D) product, not two."""
    logits, u, norms, cosines = _logits(a, x, centres)
    p = np.exp(logits)
    p /= p.sum(axis=1, keepdims=True)
    p[np.arange(len(y)), y] -= 1.0
    p /= len(y) * TEMPERATURE  # now g = p C
    z_dot_g = np.einsum("nc,nc->n", cosines, p)
    toward_means = (x.T @ (p / norms[:, None])) @ centres
    u *= (z_dot_g / (norms * norms))[:, None]  # u is this call's own array: scaled in place
    return (toward_means - x.T @ u).astype(np.float32)
