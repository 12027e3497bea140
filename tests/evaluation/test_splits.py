"""Which items evaluation keeps, and the stratified split and folds."""

from __future__ import annotations

import numpy as np
import pytest

from pixseek.errors import EvaluationError
from pixseek.evaluation.splits import holdout_split, kfold_splits, labelled_set
from tests.evaluation.data import blobs


def test_unlabelled_and_small_classes_are_dropped_and_reported() -> None:
    x, labels, paths = blobs({"a": 10, "b": 10, "c": 2})
    labels_with_none: list[str | None] = [*labels[:-1], None]  # one image directly under the root
    data = labelled_set(x, labels_with_none, paths)
    assert data.classes == ["a", "b"]
    assert data.dropped == {
        "unlabelled (directly under the root)": 1,
        "in classes with fewer than 3 images": 1,
    }
    assert data.dropped_classes == {"c": 1}
    assert len(data.labels) == len(data.paths) == len(data.vectors) == 20


def test_one_class_is_a_clear_error() -> None:
    x, labels, paths = blobs({"only": 5, "tiny": 1})
    with pytest.raises(EvaluationError, match=r"at least two classes.*found 1 \(only\).*tiny"):
        labelled_set(x, labels, paths)


def test_no_labels_is_a_clear_error() -> None:
    x, _, paths = blobs({"a": 4})
    with pytest.raises(EvaluationError, match="none of the 4 images has a label"):
        labelled_set(x, [None] * 4, paths)


def test_holdout_is_stratified_and_reproducible() -> None:
    data = labelled_set(*blobs({"a": 50, "b": 30, "c": 20}))
    split = holdout_split(data, seed=42)
    assert len(split.test) == 20 and not set(split.train) & set(split.test)
    test_counts = dict(zip(*np.unique(data.labels[split.test], return_counts=True), strict=True))
    assert test_counts == {"a": 10, "b": 6, "c": 4}
    assert np.array_equal(split.test, holdout_split(data, seed=42).test)
    assert not np.array_equal(split.test, holdout_split(data, seed=7).test)


def test_split_too_small_for_the_classes_is_an_error() -> None:
    data = labelled_set(*blobs({str(i): 3 for i in range(10)}))  # 30 images, 6 test < 10 classes
    with pytest.raises(EvaluationError, match="too few for a stratified"):
        holdout_split(data, seed=0)


def test_kfold_covers_every_item_once() -> None:
    data = labelled_set(*blobs({"a": 9, "b": 6}))
    tests = [split.test for split in kfold_splits(data, folds=3, seed=1)]
    assert sorted(np.concatenate(tests).tolist()) == list(range(15))
    with pytest.raises(EvaluationError, match="7-fold"):
        list(kfold_splits(data, folds=7, seed=1))


def test_empty_index_is_a_clear_error() -> None:
    with pytest.raises(EvaluationError, match="the index is empty"):
        labelled_set(np.zeros((0, 4), np.float32), [], [])
