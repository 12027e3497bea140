"""Labelled data fit for evaluation, and the stratified 80/20 split and K folds drawn from it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.model_selection import StratifiedKFold, train_test_split

from pixseek.errors import EvaluationError

TEST_SIZE = 0.2
# One image to test on, and two to train on so the SVM's probabilities can be calibrated by CV.
MIN_PER_CLASS = 3


@dataclass(frozen=True)
class LabelledSet:
    """Vectors with a label each; `dropped` says what was left out and why, for the report."""

    vectors: np.ndarray  # (N, D) float32
    labels: np.ndarray  # (N,) str
    paths: list[str]
    dropped: dict[str, int] = field(default_factory=dict)  # reason -> images dropped
    dropped_classes: dict[str, int] = field(default_factory=dict)  # class -> its (too few) images

    @property
    def classes(self) -> list[str]:
        return sorted(set(self.labels.tolist()))

    def counts(self) -> dict[str, int]:
        return dict(sorted(Counter(self.labels.tolist()).items()))


def labelled_set(
    vectors: np.ndarray,
    labels: Sequence[str | None],
    paths: Sequence[str],
    *,
    min_per_class: int = MIN_PER_CLASS,
) -> LabelledSet:
    """Keep labelled items of classes with at least `min_per_class` images.

    Images directly under the root have no label and are dropped. A class with fewer images than
    `min_per_class` cannot appear in both train and test (or in every fold), so it is dropped and
    reported rather than silently skewing the split. Raises EvaluationError when fewer than two
    classes remain, naming what was found.
    """
    if len(labels) != len(vectors) or len(paths) != len(vectors):
        raise EvaluationError("vectors, labels and paths differ in length")
    if not labels:
        raise EvaluationError("there are no images to evaluate: the index is empty")
    labelled = [i for i, label in enumerate(labels) if label]
    if not labelled:
        raise EvaluationError(
            f"none of the {len(labels)} images has a label: put each class in its own folder "
            "under the root (root/<class>/image.png)"
        )
    counts = Counter(labels[i] for i in labelled)
    small = {c: n for c, n in sorted(counts.items()) if n < min_per_class}
    keep = [i for i in labelled if labels[i] not in small]
    dropped = {}
    if len(labelled) < len(labels):
        dropped["unlabelled (directly under the root)"] = len(labels) - len(labelled)
    if small:
        dropped[f"in classes with fewer than {min_per_class} images"] = sum(small.values())
    remaining = sorted(set(counts) - set(small))
    if len(remaining) < 2:
        detail = f"; classes dropped for having fewer than {min_per_class} images: {small}" if small else ""
        raise EvaluationError(
            f"evaluation needs at least two classes with {min_per_class}+ images each, found "
            f"{len(remaining)} ({', '.join(remaining) or 'none'}){detail}"
        )
    idx = np.asarray(keep)
    return LabelledSet(
        vectors=np.asarray(vectors, dtype=np.float32)[idx],
        labels=np.asarray([labels[i] for i in keep], dtype=str),
        paths=[paths[i] for i in keep],
        dropped=dropped,
        dropped_classes=small,
    )


@dataclass(frozen=True)
class Split:
    """Row indices into a LabelledSet."""

    train: np.ndarray
    test: np.ndarray


def holdout_split(data: LabelledSet, *, seed: int, test_size: float = TEST_SIZE) -> Split:
    """The paper's stratified 80/20 split, reproducible from `seed`."""
    n_classes = len(data.classes)
    n_test = int(np.ceil(test_size * len(data.labels)))
    if n_test < n_classes or len(data.labels) - n_test < n_classes:
        raise EvaluationError(
            f"{len(data.labels)} images are too few for a stratified {1 - test_size:.0%}/{test_size:.0%} "
            f"split over {n_classes} classes: each side needs one image per class"
        )
    rows = np.arange(len(data.labels))
    train, test = train_test_split(rows, test_size=test_size, stratify=data.labels, random_state=seed)
    return Split(np.sort(train), np.sort(test))


def kfold_splits(data: LabelledSet, *, folds: int, seed: int) -> Iterator[Split]:
    """Stratified K folds (shuffled with `seed`); every class needs at least `folds` images."""
    smallest = min(data.counts().values())
    if folds < 2 or smallest < folds:
        raise EvaluationError(
            f"{folds}-fold needs folds >= 2 and {folds}+ images per class (smallest: {smallest})"
        )
    skf = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train, test in skf.split(data.vectors, data.labels):
        yield Split(train, test)
