"""The classifiers compared on the embeddings: the paper's scaled RBF SVM and its baselines."""

from __future__ import annotations

import math
from collections.abc import Callable

from sklearn.base import ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

SVM_C = 10.0  # the paper's C
KNN_NEIGHBOURS = 5
LOGREG_MAX_ITER = 2000

# Display names, in report order (zero_shot, which needs no training, is added by the study).
DISPLAY_NAMES = {
    "dummy": "Dummy (most frequent)",
    "logreg": "Logistic Regression",
    "svm_unscaled": "SVM (RBF, unscaled)",
    "knn": f"k-NN (cosine, k={KNN_NEIGHBOURS})",
    "svm": "SVM (RBF, StandardScaler)",
    "zero_shot": "Zero-shot (class-name prompts)",
}


def paper_svm(*, gamma: str | float = "scale", seed: int = 42) -> Pipeline:
    """StandardScaler + SVC(rbf, C=10): the paper's classifier.

    gamma defaults to scikit-learn's 'scale', 1 / (n_features * X.var()); after StandardScaler
    X.var() is ~1, so it equals the 1/n_features the paper names.
    """
    return make_pipeline(StandardScaler(), SVC(kernel="rbf", C=SVM_C, gamma=gamma, random_state=seed))


def calibrated_svm(*, gamma: str | float = "scale", seed: int = 42, cv: int = 5) -> CalibratedClassifierCV:
    """The paper's SVM with sigmoid (Platt) probabilities for `pixseek classify`.

    ensemble=False: Platt's sigmoid is fitted on `cv`-fold out-of-fold decision values, and one SVM
    is then fitted on all the training data; that SVM (`calibrated_classifiers_[0].estimator`) is
    exactly `paper_svm`, so the study scores it and trains the SVM once, not twice.
    """
    return CalibratedClassifierCV(paper_svm(gamma=gamma, seed=seed), method="sigmoid", cv=cv, ensemble=False)


def classifier_factories(
    *, gamma: str | float = "scale", seed: int = 42, n_train: int | None = None
) -> dict[str, Callable[[], ClassifierMixin]]:
    """Fresh, unfitted estimators by name; a factory per name so every fold trains its own.

    Logistic regression keeps scikit-learn's defaults (C=1, lbfgs) on the raw L2-normalised
    vectors, the "no preprocessing" baseline the paper describes. k-NN uses cosine distance;
    `n_train` caps its neighbours for tiny training sets.
    """
    k = KNN_NEIGHBOURS if n_train is None else max(1, min(KNN_NEIGHBOURS, n_train))
    return {
        "dummy": lambda: DummyClassifier(strategy="most_frequent"),
        "logreg": lambda: LogisticRegression(max_iter=LOGREG_MAX_ITER, random_state=seed),
        "svm_unscaled": lambda: SVC(kernel="rbf", C=SVM_C, gamma=gamma, random_state=seed),
        "knn": lambda: KNeighborsClassifier(n_neighbors=k, metric="cosine", algorithm="brute"),
        "svm": lambda: paper_svm(gamma=gamma, seed=seed),
    }


def parse_gamma(value: str) -> str | float:
    """'scale', 'auto' or a positive number, as SVC accepts; ValueError otherwise."""
    if value in ("scale", "auto"):
        return value
    number = float(value)
    if not math.isfinite(number) or number <= 0:  # nan slipped past `<= 0` and failed minutes later
        raise ValueError(f"gamma must be 'scale', 'auto' or a positive number, got {value!r}")
    return number
