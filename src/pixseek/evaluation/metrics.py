"""Classification metrics (via scikit-learn) and leave-one-out retrieval metrics (by hand, documented).

Retrieval, as reported in `report.json["retrieval"]`: every item is a query once, searched against all
the *other* items by cosine similarity (dot product of L2-normalised vectors); an item is relevant when
it has the query's label. With k = 10 and R = number of other items sharing the query's label:

- precision@10 = (relevant items among the top 10) / 10, averaged over queries;
- recall@1 = the share of queries whose nearest other item has the same label (the usual "R@1" of
  metric-learning papers);
- AP@10 = (1 / min(10, R)) * sum over ranks j <= 10 of precision@j * rel_j, so a query whose R
  relevant items fill the first min(10, R) ranks scores 1.0; mAP@10 is the mean over queries.

Queries with R = 0 (a label seen once) are left out of all three means; evaluation drops such classes
before it gets here. Ranks are by descending score, ties broken by lower item index.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    classification_report,
    confusion_matrix,
    precision_recall_fscore_support,
)

SUMMARY_KEYS = (
    "accuracy",
    "macro_precision",
    "macro_recall",
    "macro_f1",
    "weighted_precision",
    "weighted_recall",
    "weighted_f1",
)


@dataclass(frozen=True)
class ClassificationScores:
    """Everything reported for one classifier on one test set."""

    summary: dict[str, float]  # the SUMMARY_KEYS
    per_class: dict[str, dict[str, float]]  # label -> precision, recall, f1, support
    confusion: list[list[int]]  # rows = true label, columns = predicted, in `classes` order
    classes: list[str]


def classification_scores(
    y_true: Sequence[str], y_pred: Sequence[str], *, classes: Sequence[str]
) -> ClassificationScores:
    """Accuracy, macro/weighted P/R/F1, per-class report and confusion matrix.

    A class never predicted has precision 0 (zero_division=0), as scikit-learn reports with a warning.
    """
    labels = list(classes)
    summary = {"accuracy": float(accuracy_score(y_true, y_pred))}
    for average in ("macro", "weighted"):
        p, r, f, _ = precision_recall_fscore_support(
            y_true, y_pred, labels=labels, average=average, zero_division=0
        )
        summary |= {
            f"{average}_precision": float(p),
            f"{average}_recall": float(r),
            f"{average}_f1": float(f),
        }
    report = classification_report(y_true, y_pred, labels=labels, output_dict=True, zero_division=0)
    per_class = {
        label: {
            "precision": float(report[label]["precision"]),
            "recall": float(report[label]["recall"]),
            "f1": float(report[label]["f1-score"]),
            "support": int(report[label]["support"]),
        }
        for label in labels
    }
    matrix = confusion_matrix(y_true, y_pred, labels=labels)
    return ClassificationScores(summary, per_class, matrix.tolist(), labels)


@dataclass(frozen=True)
class RetrievalScores:
    """Leave-one-out retrieval quality; see the module docstring for the exact definitions."""

    precision_at_10: float
    recall_at_1: float
    map_at_10: float
    queries: int  # queries that had at least one relevant item

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


def retrieval_scores(
    vectors: np.ndarray,
    labels: Sequence[str],
    *,
    k: int = 10,
    chunk: int = 1024,
    queries: np.ndarray | None = None,
) -> RetrievalScores:
    """Leave-one-out precision@k, recall@1 and mAP@k over all items, `chunk` queries at a time.
    `queries` (one row per item) are searched with instead of the items' own vectors, as a query-side
    adapter does."""
    x = np.asarray(vectors, dtype=np.float32)
    q = x if queries is None else np.asarray(queries, dtype=np.float32)
    n = len(x)
    if n < 2:
        raise ValueError("retrieval needs at least two items")
    k = min(k, n - 1)
    tops = []
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        scores = q[start:stop] @ x.T
        scores[np.arange(stop - start), np.arange(start, stop)] = -np.inf  # leave the query out
        tops.append(_top_k(scores, k))
    return ranking_scores(np.concatenate(tops), labels)


def ranking_scores(top: np.ndarray, labels: Sequence[str]) -> RetrievalScores:
    """Leave-one-out precision@k, recall@1 and mAP@k of given rankings: row i of the (n, k) `top` holds
    the items query i found, best first (never i itself); k is its width."""
    codes = np.unique(np.asarray(labels), return_inverse=True)[1]
    k = top.shape[1]
    rel = codes[top] == codes[:, None]  # (n, k) bool
    relevant = np.bincount(codes)[codes] - 1
    keep = relevant > 0
    if not keep.any():
        raise ValueError("no query has a relevant item: every label occurs once")
    hits = np.cumsum(rel, axis=1)
    ap = ((hits / np.arange(1, k + 1)) * rel).sum(axis=1) / np.minimum(k, np.maximum(relevant, 1))
    precision, recall1 = hits[:, -1] / k, rel[:, 0]
    return RetrievalScores(
        float(precision[keep].mean()), float(recall1[keep].mean()), float(ap[keep].mean()), int(keep.sum())
    )


def _top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Column indices of each row's k best scores, best first, ties to the lower index.

    argpartition finds the k best cheaply; rows where more than k columns tie with the k-th best
    fall back to a full stable sort, so the tie rule holds exactly.
    """
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    vals = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -vals), axis=1)
    top = np.take_along_axis(part, order, axis=1)
    kth = np.take_along_axis(scores, top[:, -1:], axis=1)
    tied = np.flatnonzero((scores >= kth).sum(axis=1) > k)
    for row in tied:
        top[row] = np.lexsort((np.arange(scores.shape[1]), -scores[row]))[:k]
    return top
