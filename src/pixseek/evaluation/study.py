"""The classification study: each classifier on a stratified split (and optional K folds), plus retrieval."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.calibration import CalibratedClassifierCV

from pixseek.evaluation.classifiers import calibrated_svm, classifier_factories
from pixseek.evaluation.metrics import SUMMARY_KEYS, classification_scores, retrieval_scores
from pixseek.evaluation.splits import TEST_SIZE, LabelledSet, Split, holdout_split, kfold_splits
from pixseek.evaluation.zeroshot import PROMPT, ZeroShotClassifier, skip_reason
from pixseek.types import Embedder

Progress = Callable[[str], None]
CALIBRATION_FOLDS = 5


@dataclass(frozen=True)
class StudyOptions:
    seed: int = 42
    folds: int | None = None  # None: the 80/20 split only
    gamma: str | float = "scale"


@dataclass
class StudyResult:
    """`report` is report.json's content; `svm` is the fitted, calibrated scaler + SVM for `classify`."""

    report: dict[str, Any]
    svm: CalibratedClassifierCV


def run_study(
    data: LabelledSet,
    *,
    options: StudyOptions,
    embedder: Embedder | None = None,
    model: str = "unknown",
    progress: Progress | None = None,
) -> StudyResult:
    """Train and score every classifier; zero-shot runs when `embedder` has a text tower."""
    say = progress or (lambda _msg: None)
    split = holdout_split(data, seed=options.seed)
    classes = data.classes
    x_train, y_train = data.vectors[split.train], data.labels[split.train]
    x_test, y_test = data.vectors[split.test], data.labels[split.test]
    say(f"80/20 split: {len(split.train)} train, {len(split.test)} test, {len(classes)} classes")
    results: dict[str, dict[str, Any]] = {}
    details: dict[str, dict[str, Any]] = {}
    factories = classifier_factories(gamma=options.gamma, seed=options.seed, n_train=len(split.train))
    del factories["svm"]  # trained below, inside its calibration wrapper
    for name, factory in factories.items():
        say(f"training {name}")
        started = time.perf_counter()
        estimator = factory().fit(x_train, y_train)
        fit_seconds = time.perf_counter() - started
        results[name], details[name] = _scored(y_test, estimator.predict(x_test), classes)
        results[name]["fit_seconds"] = round(fit_seconds, 3)

    say("training svm (with probability calibration)")
    smallest = int(np.unique(y_train, return_counts=True)[1].min())
    svm = calibrated_svm(gamma=options.gamma, seed=options.seed, cv=min(CALIBRATION_FOLDS, smallest))
    started = time.perf_counter()
    svm.fit(x_train, y_train)
    plain = svm.calibrated_classifiers_[0].estimator  # the paper's SVM, fitted on all of x_train
    results["svm"], details["svm"] = _scored(y_test, plain.predict(x_test), classes)
    results["svm"]["fit_seconds"] = round(time.perf_counter() - started, 3)
    results["svm"]["fit_includes_calibration"] = True

    zero_shot, reason = _zero_shot(embedder, classes)
    if zero_shot is not None:
        results["zero_shot"], details["zero_shot"] = _scored(y_test, zero_shot.predict(x_test), classes)
        results["zero_shot"]["prompt"] = PROMPT
    else:
        results["zero_shot"] = {"skipped": True, "reason": reason}
    say("leave-one-out retrieval")
    report: dict[str, Any] = {
        "model": model,
        "n_images": len(data.labels),
        "n_classes": len(classes),
        "split": _split_info(split, options),
        "classifiers": results,
        "retrieval": retrieval_scores(data.vectors, data.labels.tolist()).to_dict(),
        "labels": classes,
        "class_counts": data.counts(),
        "dropped": data.dropped,
        "dropped_classes": data.dropped_classes,
        "gamma": options.gamma,
        "details": details,
    }
    if options.folds:
        say(f"{options.folds}-fold cross-validation")
        report["cv"] = cross_validate(data, options=options, zero_shot=zero_shot)
    return StudyResult(report, svm)


def cross_validate(
    data: LabelledSet, *, options: StudyOptions, zero_shot: ZeroShotClassifier | None = None
) -> dict[str, Any]:
    """Stratified K-fold: each metric's mean and (population) std over folds, per classifier."""
    assert options.folds is not None
    per_fold: dict[str, list[dict[str, float]]] = {}
    classes = data.classes
    for split in kfold_splits(data, folds=options.folds, seed=options.seed):
        x_test, y_test = data.vectors[split.test], data.labels[split.test]
        factories = classifier_factories(gamma=options.gamma, seed=options.seed, n_train=len(split.train))
        predictors: dict[str, Any] = {
            name: factory().fit(data.vectors[split.train], data.labels[split.train])
            for name, factory in factories.items()
        }
        if zero_shot is not None:
            predictors["zero_shot"] = zero_shot
        for name, predictor in predictors.items():
            per_fold.setdefault(name, []).append(_scored(y_test, predictor.predict(x_test), classes)[0])
    summary = {
        name: {
            key: {"mean": float(np.mean(values)), "std": float(np.std(values))}
            for key in SUMMARY_KEYS
            for values in [[fold[key] for fold in folds]]
        }
        for name, folds in per_fold.items()
    }
    return {"folds": options.folds, "seed": options.seed, "stratified": True, "classifiers": summary}


def _zero_shot(embedder: Embedder | None, classes: list[str]) -> tuple[ZeroShotClassifier | None, str | None]:
    reason = skip_reason(embedder)
    if reason is not None or embedder is None:
        return None, reason
    return ZeroShotClassifier(embedder, classes), None


def _scored(y_true: np.ndarray, y_pred: np.ndarray, classes: list[str]) -> tuple[dict, dict]:
    scores = classification_scores(y_true.tolist(), np.asarray(y_pred).tolist(), classes=classes)
    return dict(scores.summary), {"per_class": scores.per_class, "confusion_matrix": scores.confusion}


def _split_info(split: Split, options: StudyOptions) -> dict[str, Any]:
    return {
        "kind": "stratified holdout",
        "test_size": TEST_SIZE,
        "seed": options.seed,
        "n_train": len(split.train),
        "n_test": len(split.test),
    }
