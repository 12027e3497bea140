"""Training the class adapters (search.adapter): a multinomial logistic regression over the labelled
vectors, whose posteriors (class-posterior) or weights (class-direction) the adapter uses.

The regression's C and each method's strength were chosen with benchmarks/adapt_study.py
(docs/results.md) on Tux Paint and Fashion-MNIST at several seeds: a larger strength gains more on seen
classes and loses more on unseen ones, and each default is the largest whose mean unseen loss stays
within -0.01 on both sets; C mattered little from 30 to 300 on Tux Paint, and 30 gained most on
Fashion-MNIST. Class-posterior's smoothing (NEIGHBOURS, MIX) and its strength were chosen the same way
with `benchmarks/adapt_variants.py smoothing`, and checked on five Tux Paint splits not used to choose.
"""

from __future__ import annotations

import warnings

import numpy as np

from pixseek.evaluation.adapt import TrainedMap, usable_classes
from pixseek.search.adapter import CLASS_DIRECTION, CLASS_POSTERIOR

REGULARISATION_C = 30.0
STRENGTHS = {CLASS_POSTERIOR: 0.9, CLASS_DIRECTION: 0.4}
# class-posterior's smoothing over each row's nearest rows (search.adapter): how many, and their share
NEIGHBOURS = 4
MIX = 0.5
MAX_ITERATIONS = 1000


def train_classes(
    vectors: np.ndarray,
    labels: list[str],
    *,
    method: str = CLASS_POSTERIOR,
    seed: int = 0,
    c: float = REGULARISATION_C,
    strength: float | None = None,
    neighbours: int = NEIGHBOURS,
    mix: float = MIX,
) -> TrainedMap:
    """Fit W, b on labelled vectors (L2-normalised first, as queries are) for a class `method`. Fewer than
    two classes of two images is a QueryError, as for every adapter. `c` and `strength` (default: the
    method's), `neighbours` and `mix` are for the study that chose them."""
    x, codes, usable = usable_classes(vectors, labels)
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    from sklearn.exceptions import ConvergenceWarning  # here: searching never needs scikit-learn
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=c, max_iter=MAX_ITERATIONS, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # MAX_ITERATIONS bounds the time; the fit is used
        model.fit(x, codes)
    weights, bias = model.coef_, model.intercept_
    if len(usable) == 2:  # scikit-learn keeps one row for two classes: w for the second, -w for the first
        weights, bias = np.vstack([-weights, weights]) / 2, np.r_[-bias, bias] / 2
    matrix = np.column_stack([weights, bias]).astype(np.float32)
    iterations = int(np.max(model.n_iter_))
    return TrainedMap(
        matrix,
        tuple(str(name) for name in usable),
        len(codes),
        iterations,
        None,
        method,
        STRENGTHS[method] if strength is None else strength,
        neighbours=neighbours if method == CLASS_POSTERIOR else 0,
        mix=mix if method == CLASS_POSTERIOR else 0.0,
    )
