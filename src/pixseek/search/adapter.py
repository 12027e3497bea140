"""Adapters over one model's frozen vectors, trained on a collection's folder labels; nothing stored
changes, so images indexed later are covered at once and turning one off is just not applying it.

Three methods, chosen between by measurement (benchmarks/adapt_study.py, docs/results.md); W, b are a
multinomial logistic regression over the labelled vectors, p(x) = normalise(softmax(x W^T + b)):
- `class-posterior` (default): both sides. A pair scores the cosine of [x, s p(x)] vectors, that is
  (<q, x> + s^2 <p(q), p(x)>) / (1 + s^2): images the classifier puts in the query's classes move up. No
  index holds those vectors, so searches re-score a pool of the nearest candidates (RERANK_POOL).
  With `neighbours` k > 0 (the default since it was measured), each posterior is first mixed with the
  mean of its k nearest rows' among the SMOOTHING_REFERENCE rows nearest the query (in a search: its
  pool), p~ = normalise((1 - a) p + a mean p(nn)), and the query's with its k nearest rows': the
  collection's own neighbourhoods steady the classifier, so at the same loss on unseen classes it gains
  more on seen ones (docs/results.md). The reference bounds the cost at rows x SMOOTHING_REFERENCE.
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

import faiss
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
# Class-posterior's smoothing looks for a posterior's neighbours among this many rows nearest the query:
# the whole pool in a search (k <= RERANK_POOL), and a bound on the cost (rows x reference) elsewhere
SMOOTHING_REFERENCE = RERANK_POOL


def unit_rows(u: np.ndarray) -> np.ndarray:
    """Each row (last axis) scaled to length 1, float32; an all-zero row stays zero."""
    return (u / np.maximum(np.linalg.norm(u, axis=-1, keepdims=True), 1e-12)).astype(np.float32)


def adapt_queries(queries: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """normalise(q + q A) per row, float32: the residual map, for search and its evaluation alike."""
    return unit_rows(queries + queries @ matrix)


def _softmax(logits: np.ndarray) -> np.ndarray:
    logits = logits - logits.max(axis=-1, keepdims=True)
    p = np.exp(logits)
    return p / p.sum(axis=-1, keepdims=True)


def posteriors(vectors: np.ndarray, weights: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """normalise(softmax(x W^T + b)) per (normalised) row, float32: the class side of class-posterior.
    By einsum (see QueryAdapter.scores): 0.06 s for 10,000 x 1,280 x 10, and no thread wake-ups."""
    x = unit_rows(np.asarray(vectors, dtype=np.float32))
    return unit_rows(_softmax(np.einsum("...d,cd->...c", x, weights) + bias))


def smoothed(own: np.ndarray, neighbours: np.ndarray, mix: float) -> np.ndarray:
    """normalise((1 - mix) p + mix mean(p of the neighbours)) per row; own (..., c), neighbours
    (..., k, c)."""
    return unit_rows((1.0 - mix) * own + mix * neighbours.mean(axis=-2))


def pool_scores(
    cosines: np.ndarray,
    query_p: np.ndarray,
    pool_p: np.ndarray,
    nearest: np.ndarray | None,
    *,
    strength: float,
    neighbours: int,
    mix: float,
) -> np.ndarray:
    """Class-posterior scores of B queries' pools, (B, P): (<q, x> + s^2 <p~(q), p~(x)>) / (1 + s^2).

    Each pool is sorted by cosine to its query, best first, and its first R rows are the reference:
    a row's posterior is mixed with the mean of those of its `neighbours` nearest reference rows (not
    itself), the query's with those of the first ones. One formula for search (B = 1) and evaluation.

    cosines (B, P); query_p (B, c); pool_p (B, P, c); nearest (B, P, k): each row's nearest reference rows
    (`nearest_references`), None when no row has one.
    """
    if neighbours > 0 and mix > 0 and pool_p.shape[1] > 0:
        query_p = smoothed(query_p, pool_p[:, :neighbours], mix)
        if nearest is not None and nearest.shape[2] > 0:
            pool_p = smoothed(pool_p, pool_p[np.arange(len(pool_p))[:, None, None], nearest], mix)
    s2 = strength * strength
    return ((cosines + s2 * np.einsum("bpc,bc->bp", pool_p, query_p)) / (1.0 + s2)).astype(np.float32)


def nearest_in_block(inner: np.ndarray, k: int) -> np.ndarray:
    """(..., P, k) indices of each row's k largest entries of an (..., P, R) cosine block whose entries of
    a reference row with itself are -inf (in no order: only their mean counts)."""
    return np.argpartition(-inner, k - 1, axis=-1)[..., :k]


def nearest_references(x: np.ndarray, refs: int, k: int) -> np.ndarray:
    """(P, k) indices of each row's k nearest among the first `refs` rows of x (itself left out), k < refs.

    By FAISS's exhaustive search a few rows at a time: below its BLAS threshold it runs its own SIMD
    kernels on the OpenMP threads the index search just used. The same 200 x 200 x 1,280 product by
    numpy's BLAS took 0.8 ms alone, but right after a FAISS search its threads competed with OpenMP's
    (p50 of a 1M-row search 8.0 ms, against 3.4-4.0 ms this way)."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    reference = x[:refs]
    step = max(int(faiss.cvar.distance_compute_blas_threshold) - 1, 1)
    found = np.empty((len(x), k + 1), np.int64)
    for start in range(0, len(x), step):
        _, found[start : start + step] = faiss.knn(
            x[start : start + step], reference, k + 1, metric=faiss.METRIC_INNER_PRODUCT
        )
    own = found == np.arange(len(x))[:, None]  # a reference row finds itself: drop it
    keep = np.argsort(own, axis=1, kind="stable")[:, :k]  # the first k others, in found order
    return np.take_along_axis(found, keep, axis=1)


def toward_classes(queries: np.ndarray, weights: np.ndarray, bias: np.ndarray, strength: float) -> np.ndarray:
    """normalise(q + strength * normalise(softmax(q W^T + b) W)) per (normalised) row, float32."""
    q = unit_rows(np.asarray(queries, dtype=np.float32))
    p = _softmax(q @ weights.T + bias)
    return unit_rows(q + strength * unit_rows(p @ weights))


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
            return unit_rows(q)
        if self.method == CLASS_DIRECTION:
            return toward_classes(q, self.matrix[:, :-1], self.matrix[:, -1], self.strength)
        return adapt_queries(q, self.matrix)

    def scores(self, query: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        """(C,) adapted scores of (C, dim) candidate rows for one query: cosines of the mapped query,
        or for class-posterior, those of the [x, s p~(x)] vectors (`pool_scores`), the posteriors smoothed
        over the SMOOTHING_REFERENCE candidates nearest the query."""
        q = self._checked(query)
        x = unit_rows(np.asarray(candidates, dtype=np.float32))
        if self.method != CLASS_POSTERIOR:
            return np.einsum("nd,d->n", x, self.apply(q)).astype(np.float32)
        # einsum, not BLAS, for the products with one query: just after the index's OpenMP search,
        # OpenBLAS's threads took 3 ms to wake for 200 rows
        q = unit_rows(q)
        cosines = np.einsum("nd,d->n", x, q)
        order = np.lexsort((np.arange(len(x)), -cosines))  # best first, ties by position
        x = x[order]
        w, b = self.matrix[:, :-1], self.matrix[:, -1]
        refs = min(SMOOTHING_REFERENCE, len(x))
        k = min(self.neighbours, refs - 1) if self.mix > 0 else 0
        nearest = nearest_references(x, refs, k)[None] if k > 0 else None
        ranked = pool_scores(
            cosines[order][None], posteriors(q, w, b)[None], posteriors(x, w, b)[None], nearest,
            strength=self.strength, neighbours=self.neighbours, mix=self.mix,
        )[0]  # fmt: skip
        out = np.empty_like(ranked)
        out[order] = ranked
        return out

    def both_sides(self, vectors: np.ndarray, around: np.ndarray | None = None) -> np.ndarray:
        """Rows as candidates are scored against `query_side`: [x, s p~(x)] / sqrt(1 + s^2) for
        class-posterior, posteriors smoothed over the SMOOTHING_REFERENCE rows nearest `around` (a query;
        None: over all the rows, for small sets), so their dot products are `scores`; the frozen
        (normalised) rows for the query-only methods."""
        x = unit_rows(self._checked(vectors))
        if self.method != CLASS_POSTERIOR or not len(x):
            return x
        order, refs = self._reference(x, around)
        w, b = self.matrix[:, :-1], self.matrix[:, -1]
        p = posteriors(x[order], w, b)
        k = min(self.neighbours, refs - 1)
        if k > 0 and self.mix > 0:
            p = smoothed(p, p[nearest_references(x[order], refs, k)], self.mix)
        rows = np.empty((len(x), p.shape[1]), np.float32)
        rows[order] = p
        return self._extended(x, rows)

    def query_side(self, query: np.ndarray, vectors: np.ndarray) -> np.ndarray:
        """The query as `both_sides(vectors, around=query)` rows are scored against: [q, s p~(q)] /
        sqrt(1 + s^2), its posterior mixed with its nearest rows'; the mapped query for the others."""
        q = unit_rows(self._checked(query))
        if self.method != CLASS_POSTERIOR:
            return self.apply(q)
        w, b = self.matrix[:, :-1], self.matrix[:, -1]
        p = posteriors(q, w, b)
        x = unit_rows(self._checked(vectors))
        if self.neighbours > 0 and self.mix > 0 and len(x):
            order, _ = self._reference(x, q)
            p = smoothed(p, posteriors(x[order[: self.neighbours]], w, b), self.mix)
        return self._extended(q[None], p[None])[0]

    def _reference(self, x: np.ndarray, around: np.ndarray | None) -> tuple[np.ndarray, int]:
        """Rows in order of cosine to `around`, best first (as given without it), and how many of the
        first are the smoothing's reference."""
        if around is None:
            return np.arange(len(x)), len(x)
        cosines = x @ unit_rows(np.asarray(around, dtype=np.float32))
        return np.lexsort((np.arange(len(x)), -cosines)), min(SMOOTHING_REFERENCE, len(x))

    def _extended(self, x: np.ndarray, p: np.ndarray) -> np.ndarray:
        s = self.strength
        return (np.concatenate([x, s * p], axis=-1) / np.sqrt(1.0 + s * s)).astype(np.float32)

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
            "strength": round(self.strength, 4),  # 0 for query-residual
            "neighbours": self.neighbours,  # class-posterior's smoothing (0: none, as stored before it)
            "mix": round(self.mix, 4),
        }
