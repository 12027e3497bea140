"""Adapters over one model's frozen vectors, trained on a collection's folder labels; nothing stored
changes, so images indexed later are covered at once and turning one off is just not applying it.

Three methods, chosen between by measurement (benchmarks/adapt_study.py, docs/results.md); W, b are a
multinomial logistic regression over the labelled vectors, p(x) = normalise(softmax(x W^T + b)):
- `class-posterior` (default): both sides. A pair scores the cosine of [x, s p(x)] vectors, that is
  (<q, x> + s^2 <p(q), p(x)>) / (1 + s^2): images the classifier puts in the query's classes move up. No
  index holds those vectors, so searches re-score a pool of the nearest candidates (RERANK_POOL).
  With `neighbours` k > 0 (the default since it was measured), each posterior is first mixed with the
  mean of its k nearest rows' among those scored together, p~ = normalise((1 - a) p + a mean p(nn)), and
  the query's with its k nearest candidates': the collection's own neighbourhoods steady the classifier,
  so at the same loss on unseen classes it gains more on seen ones (docs/results.md).
- `class-direction`: the query only, q' = normalise(q + s * normalise(p'(q) W)) with p' the softmax
  itself: it moves toward the weights of its likely classes.
- `query-residual`: the query only, q' = normalise(q + q A), a residual linear map trained against the
  class means.
At the same cost on unseen classes, class-posterior gained most on seen ones. The query-only methods need
no re-scoring: every index (exact, FAISS, the compressed one, an older index plus a delta) serves the
mapped query as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from pixseek.errors import QueryError

CLASS_POSTERIOR = "class-posterior"
CLASS_DIRECTION = "class-direction"
QUERY_RESIDUAL = "query-residual"
METHODS = (CLASS_POSTERIOR, CLASS_DIRECTION, QUERY_RESIDUAL)
DEFAULT_METHOD = CLASS_POSTERIOR  # measured against the others in docs/results.md
CLASS_METHODS = (CLASS_POSTERIOR, CLASS_DIRECTION)  # stored as [W | b]
# Candidates a class-posterior search re-scores: on Tux Paint, 200 nearest kept all of the full
# re-ranking's gain (mAP@10 +0.103 against +0.104), and on Fashion-MNIST 50 did
RERANK_POOL = 200


def _normalise(u: np.ndarray) -> np.ndarray:
    return (u / np.maximum(np.linalg.norm(u, axis=-1, keepdims=True), 1e-12)).astype(np.float32)


def adapt_queries(queries: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """normalise(q + q A) per row, float32: the residual map, for search and its evaluation alike."""
    return _normalise(queries + queries @ matrix)


def _softmax(logits: np.ndarray) -> np.ndarray:
    logits = logits - logits.max(axis=-1, keepdims=True)
    p = np.exp(logits)
    return p / p.sum(axis=-1, keepdims=True)


def posteriors(vectors: np.ndarray, weights: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """normalise(softmax(x W^T + b)) per (normalised) row, float32: the class side of class-posterior.
    By einsum (see QueryAdapter.scores): 0.06 s for 10,000 x 1,280 x 10, and no thread wake-ups."""
    x = _normalise(np.asarray(vectors, dtype=np.float32))
    return _normalise(_softmax(np.einsum("...d,cd->...c", x, weights) + bias))


def nearest_rows(similarities: np.ndarray, k: int) -> np.ndarray:
    """(R, k) indices of each row's k most similar columns (in no order: only their mean is used), for an
    (R, C) similarity block with k < C; a row's own column must already be -inf where it is one."""
    return np.argpartition(-similarities, k - 1, axis=1)[:, :k]


def _self_similarities(x: np.ndarray) -> np.ndarray:
    similar = x @ x.T  # BLAS: by einsum, 200 x 200 x 1,280 took 11 ms against 0.8
    np.fill_diagonal(similar, -np.inf)
    return similar


def smoothed(own: np.ndarray, neighbours: np.ndarray, mix: float) -> np.ndarray:
    """normalise((1 - mix) p + mix mean(p of the neighbours)) per row: own (R, c), neighbours (R, k, c)."""
    return _normalise((1.0 - mix) * own + mix * neighbours.mean(axis=-2))


def with_posteriors(
    vectors: np.ndarray,
    weights: np.ndarray,
    bias: np.ndarray,
    strength: float,
    *,
    neighbours: int = 0,
    mix: float = 0.0,
) -> np.ndarray:
    """[x, s p(x)] / sqrt(1 + s^2) per row: the vectors whose dot products are class-posterior's scores.
    With `neighbours`, p is smoothed over each row's nearest among these rows (itself left out)."""
    x = _normalise(np.asarray(vectors, dtype=np.float32))
    p = posteriors(x, weights, bias)
    k = min(neighbours, len(x) - 1) if x.ndim == 2 else 0
    if k > 0 and mix > 0:
        p = smoothed(p, p[nearest_rows(_self_similarities(x), k)], mix)
    both = np.concatenate([x, strength * p], axis=-1)
    return (both / np.sqrt(1.0 + strength * strength)).astype(np.float32)


def toward_classes(queries: np.ndarray, weights: np.ndarray, bias: np.ndarray, strength: float) -> np.ndarray:
    """normalise(q + strength * normalise(softmax(q W^T + b) W)) per (normalised) row, float32."""
    q = _normalise(np.asarray(queries, dtype=np.float32))
    p = _softmax(q @ weights.T + bias)
    return _normalise(q + strength * _normalise(p @ weights))


@dataclass(frozen=True)
class QueryAdapter:
    """A trained adapter over one model's vectors. `matrix` is A in normalise(q + q A) (dim x dim) for
    query-residual, or [W | b] (classes x dim + 1) for the class methods, with `strength` s."""

    matrix: np.ndarray
    method: str
    classes: tuple[str, ...]
    trained_on: int
    created: str
    strength: float = 0.0
    neighbours: int = 0  # class-posterior: how many nearest rows each posterior is smoothed with
    mix: float = 0.0  # ... and the neighbours' share, a

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise QueryError(f"unknown adapter method {self.method!r}; choose one of {', '.join(METHODS)}")

    @property
    def dim(self) -> int:
        return int(self.matrix.shape[1] - 1 if self.method in CLASS_METHODS else self.matrix.shape[0])

    @property
    def reranks(self) -> bool:
        """Whether searches must re-score candidates (`scores`) beyond mapping the query (`apply`)."""
        return self.method == CLASS_POSTERIOR

    def apply(self, queries: np.ndarray) -> np.ndarray:
        """Adapted, L2-normalised query rows (float32); a 1-d query stays 1-d. For class-posterior, the
        query as it finds the candidates that `scores` re-ranks: normalised, not moved."""
        q = self._checked(queries)
        if self.method == CLASS_POSTERIOR:
            return _normalise(q)
        if self.method == CLASS_DIRECTION:
            return toward_classes(q, self.matrix[:, :-1], self.matrix[:, -1], self.strength)
        return adapt_queries(q, self.matrix)

    def scores(self, query: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        """(C,) adapted scores of (C, dim) candidate rows for one query: cosines of the mapped query,
        or for class-posterior, those of the [x, s p(x)] vectors, each posterior smoothed over its
        `neighbours` nearest among these candidates (the query's: its nearest candidates)."""
        q = self._checked(query)
        x = _normalise(np.asarray(candidates, dtype=np.float32))
        if self.method != CLASS_POSTERIOR:
            return np.einsum("nd,d->n", x, self.apply(q)).astype(np.float32)
        # einsum, not BLAS, for these small products: just after the index's OpenMP search, OpenBLAS's
        # threads took 3 ms to wake for 200 rows, against 0.5 ms for the whole re-score by einsum
        q = _normalise(q)
        w, b, s = self.matrix[:, :-1], self.matrix[:, -1], self.strength
        cosines = np.einsum("nd,d->n", x, q)
        p, p_query = posteriors(x, w, b), posteriors(q, w, b)
        k = min(self.neighbours, len(x) - 1)
        if k > 0 and self.mix > 0:  # the query's nearest candidates are its neighbours
            p_near = p[nearest_rows(cosines[None, :], k)[0]]
            p_query = smoothed(p_query, p_near, self.mix)
            p = smoothed(p, p[nearest_rows(_self_similarities(x), k)], self.mix)
        both = cosines + s * s * np.einsum("nc,c->n", p, p_query)
        return (both / (1.0 + s * s)).astype(np.float32)

    def both_sides(self, vectors: np.ndarray) -> np.ndarray:
        """Rows as candidates are scored against adapted queries: [x, s p(x)] / sqrt(1 + s^2) for
        class-posterior (p smoothed over each row's nearest among these rows), the frozen (normalised)
        rows for the query-only methods."""
        x = self._checked(vectors)
        if self.method == CLASS_POSTERIOR:
            w, b = self.matrix[:, :-1], self.matrix[:, -1]
            return with_posteriors(x, w, b, self.strength, neighbours=self.neighbours, mix=self.mix)
        return _normalise(x)

    def queries(self, vectors: np.ndarray) -> np.ndarray:
        """Rows as queries, to be scored against `both_sides` rows (what leave-one-out evaluation needs)."""
        return self.both_sides(vectors) if self.method == CLASS_POSTERIOR else self.apply(vectors)

    def _checked(self, vectors: np.ndarray) -> np.ndarray:
        q = np.asarray(vectors, dtype=np.float32)
        if q.shape[-1] != self.dim:
            raise QueryError(f"query vectors have dim {q.shape[-1]}, the adapter {self.dim}")
        return q

    def info(self) -> dict[str, Any]:
        """What `pixseek info --json` shows as "adapter"."""
        return {
            "method": self.method,
            "trained_on": self.trained_on,
            "classes": list(self.classes),
            "created": self.created,
        }
