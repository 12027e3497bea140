"""Relevance feedback: re-score candidates from the images a user marked relevant or not.

Three methods, compared by a simulated user in `pixseek eval` (docs/results.md):
- `maxsim` (default): a candidate scores by its closeness to the nearest of the query and the relevant
  marks (a soft maximum, so two close marks count a little more than one) minus half its closeness to the
  nearest irrelevant mark. It keeps every mark's own neighbourhood, where an averaged query blurs them.
- `rocchio`: one moved query vector, query + 0.75 mean(relevant) - 0.15 mean(irrelevant) (the classic
  weights); cheap, one ordinary search.
- `svm`: `maxsim` plus a linear SVM trained on the marks (relevant and query against irrelevant), whose
  decision values add a learned direction; only when both kinds of mark are given.
The server stays stateless: the marks travel with each request.
"""

from __future__ import annotations

from typing import Literal, get_args

import numpy as np

from pixseek.errors import QueryError

FeedbackMethod = Literal["maxsim", "rocchio", "svm"]
METHODS: tuple[str, ...] = get_args(FeedbackMethod)
DEFAULT_METHOD: FeedbackMethod = "maxsim"
ROCCHIO_WEIGHTS = (1.0, 0.75, 0.15)  # query, mean relevant, mean irrelevant
SOFTMAX_TEMPERATURE = 0.05  # tuned on Tux Paint, checked on Fashion-MNIST (docs/results.md)
NEGATIVE_WEIGHT = 0.5
SVM_WEIGHT = 0.05  # the SVM's standardised decision values, against cosine scores in [-1, 1]


def check_method(method: str) -> FeedbackMethod:
    if method not in METHODS:
        raise QueryError(f"unknown feedback method {method!r}; choose one of {', '.join(METHODS)}")
    return method  # type: ignore[return-value]


def rocchio_vector(query: np.ndarray | None, relevant: np.ndarray, irrelevant: np.ndarray) -> np.ndarray:
    """The moved query, L2-normalised; without a query, the relevant marks' mean stands in for it."""
    if query is None and not len(relevant):
        raise QueryError("relevance feedback needs a query or at least one image marked relevant")
    a, b, c = ROCCHIO_WEIGHTS
    dim = relevant.shape[1] if query is None else len(query)
    moved = np.zeros(dim, dtype=np.float64)
    if query is not None:
        moved += a * query
    if len(relevant):
        moved += b * relevant.mean(axis=0) if query is not None else relevant.mean(axis=0)
    if len(irrelevant):
        moved -= c * irrelevant.mean(axis=0)
    norm = np.linalg.norm(moved)
    if norm == 0:
        raise QueryError("the marks cancel out: mark at least one image as relevant")
    return (moved / norm).astype(np.float32)


def _soft_max(similarities: np.ndarray) -> np.ndarray:
    """Per row of (C, M) similarities: a maximum softened by SOFTMAX_TEMPERATURE (log-sum-exp)."""
    t = SOFTMAX_TEMPERATURE
    top = similarities.max(axis=1)
    return top + t * np.log(np.exp((similarities - top[:, None]) / t).sum(axis=1))


def combine(
    method: FeedbackMethod,
    to_query: np.ndarray | None,
    to_relevant: np.ndarray,
    to_irrelevant: np.ndarray,
    svm_decision: np.ndarray | None = None,
) -> np.ndarray:
    """Scores from the candidates' similarities: (C,) to the query (or None), (C, P) to the relevant marks,
    (C, Q) to the irrelevant ones. The one place each method's formula lives: serving computes these
    similarities for its candidates, the evaluation for every image at once.

    Rocchio's score here is the moved query's projection before normalisation (same ranking).
    """
    columns = to_relevant if to_query is None else np.column_stack([to_query, to_relevant])
    if columns.shape[1] == 0:
        raise QueryError("relevance feedback needs a query or at least one image marked relevant")
    if method == "rocchio":
        a, b, c = ROCCHIO_WEIGHTS
        out = np.zeros(len(columns)) if to_query is None else a * to_query
        if to_relevant.shape[1]:
            out = out + (b if to_query is not None else 1.0) * to_relevant.mean(axis=1)
        if to_irrelevant.shape[1]:
            out = out - c * to_irrelevant.mean(axis=1)
        return out.astype(np.float32)
    out = _soft_max(columns)
    if to_irrelevant.shape[1]:
        out = out - NEGATIVE_WEIGHT * _soft_max(to_irrelevant)
    if method == "svm" and svm_decision is not None:
        out = out + SVM_WEIGHT * svm_decision
    return out.astype(np.float32)


def scores(
    method: FeedbackMethod,
    candidates: np.ndarray,
    query: np.ndarray | None,
    relevant: np.ndarray,
    irrelevant: np.ndarray,
) -> np.ndarray:
    """(C,) scores of the (C, D) candidate rows, higher is better; marks are (M, D) arrays (M may be 0).
    Rocchio's are cosines to the moved query."""
    if method == "rocchio":
        return (candidates @ rocchio_vector(query, relevant, irrelevant)).astype(np.float32)
    to_query = None if query is None else candidates @ query
    svm = None
    if method == "svm" and len(irrelevant):
        anchors = relevant if query is None else np.vstack([query[None, :], relevant])
        svm = svm_decision(candidates, anchors, irrelevant)
    return combine(method, to_query, candidates @ relevant.T, candidates @ irrelevant.T, svm)


def svm_decision(candidates: np.ndarray, anchors: np.ndarray, irrelevant: np.ndarray) -> np.ndarray:
    """Standardised decision values of a linear SVM: query and relevant marks against irrelevant ones."""
    from sklearn.svm import LinearSVC

    x = np.vstack([anchors, irrelevant])
    y = np.r_[np.ones(len(anchors)), np.zeros(len(irrelevant))]
    model = LinearSVC(C=0.1, class_weight="balanced").fit(x, y)
    decision = model.decision_function(candidates)
    return decision / (decision.std() + 1e-9)
