"""Which embedding adapter to build (issue 14), chosen by measurement on an index's folder labels.

    python benchmarks/adapt_study.py /tmp/tux.db      # Tux Paint, efficientnet-lite0
    python benchmarks/adapt_study.py /tmp/fm.db       # Fashion-MNIST test split, efficientnet-lite0
    python benchmarks/adapt_study.py /tmp/tux.db --seed 42 --only frozen --class-directions 30:0.4 100:0.5
    python benchmarks/adapt_study.py /tmp/tux.db --seed 42 --only frozen --class-posteriors 30:0.5 100:0.45

Seen classes: every class is split in half (stratified, seeded); an adapter is fitted on one half and
retrieval (leave-one-out P@10 and mAP@10, `evaluation.metrics.retrieval_scores`) is measured among the other
half. Unseen classes: the classes are split in half; fitted on the images of one half, measured among the
images of the other. Candidates, each a map x -> normalise(f(x)) over the frozen vectors:
- frozen: identity;
- lda: shrinkage LDA projection (scikit-learn), the issue's first anchor;
- whiten: within-class whitening (the second anchor);
- residual: x + x A, A trained by gradient descent on a cosine-softmax loss against class means
  (temperature 0.05), with weight decay toward A = 0 (the identity map) and early stopping on a
  validation fifth of the training half. Needs only numpy to apply; torch trains it here.
- class-direction-C-S (`--class-directions C:S`): `pixseek adapt --method class-direction`
  (evaluation/adapt_classes.py) at regularisation C and strength S; queries only.
- class-posterior-C-S (`--class-posteriors C:S`): what `pixseek adapt` trains by default, at
  regularisation C and strength S; both sides, [x, S p(x)], scored over the whole set (a search re-scores
  the 200 nearest).
Prints JSON: per candidate, seen and unseen P@10 / mAP@10, and training seconds.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.model_selection import train_test_split

from pixseek.evaluation import adapt
from pixseek.evaluation.adapt import train_query_map
from pixseek.evaluation.adapt_classes import train_classes
from pixseek.evaluation.adapters import as_adapter
from pixseek.evaluation.metrics import retrieval_scores
from pixseek.services import Index


def _normalise(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def fit_lda(x: np.ndarray, y: np.ndarray):
    lda = LinearDiscriminantAnalysis(solver="eigen", shrinkage="auto").fit(x, y)
    return lambda v: _normalise(lda.transform(v))


def fit_whiten(x: np.ndarray, y: np.ndarray, eps: float = 1e-3):
    centred = np.concatenate([x[y == c] - x[y == c].mean(0) for c in np.unique(y)])
    cov = centred.T @ centred / len(centred) + eps * np.eye(x.shape[1])
    vals, vecs = np.linalg.eigh(cov)
    w = vecs / np.sqrt(vals)
    return lambda v: _normalise(v @ w)


def _torch_parts(x: np.ndarray, y: np.ndarray, *, lr: float, seed: int):
    """A seeded stratified split into training and validation fifths as tensors, class indices, and a
    zero residual matrix with its Adam optimiser."""
    import torch

    torch.manual_seed(seed)
    x_train, x_val, y_train, y_val = train_test_split(x, y, test_size=0.2, stratify=y, random_state=seed)
    index = {c: i for i, c in enumerate(np.unique(y))}
    xt, xv = torch.tensor(x_train), torch.tensor(x_val)
    yt = torch.tensor([index[c] for c in y_train])
    yv = torch.tensor([index[c] for c in y_val])
    a = torch.zeros(x.shape[1], x.shape[1], requires_grad=True)
    return xt, xv, yt, yv, len(index), a, torch.optim.Adam([a], lr=lr)


def _early_stopped(a, opt, train_loss, val_loss, *, decay: float, epochs: int = 300) -> np.ndarray:
    """Full-batch steps on train_loss() plus decay toward A = 0; the A with the best val_loss(), kept
    until it has not improved for 10 epochs."""
    import torch

    best, best_a, patience = float("inf"), a.detach().clone(), 0
    for _ in range(epochs):
        opt.zero_grad()
        (train_loss() + decay * (a**2).sum()).backward()
        opt.step()
        with torch.no_grad():
            val = val_loss()
        if val < best - 1e-4:
            best, best_a, patience = val, a.detach().clone(), 0
        else:
            patience += 1
            if patience >= 10:
                break
    return best_a.numpy()


def fit_residual(
    x: np.ndarray, y: np.ndarray, *, decay: float, lr: float = 1e-3, seed: int = 0, epochs: int = 300
):
    """A residual map of both sides: score(q, x) = <normalise(q + q A), normalise(x + x A)>."""
    import torch

    xt, xv, yt, yv, n_classes, a, opt = _torch_parts(x, y, lr=lr, seed=seed)

    def embed(v: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.normalize(v + v @ a, dim=1)

    def centres_of(z: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.normalize(
            torch.stack([z[yt == i].mean(0) for i in range(n_classes)]), dim=1
        )

    def train_loss() -> torch.Tensor:
        z = embed(xt)
        return torch.nn.functional.cross_entropy(z @ centres_of(z).T / 0.05, yt)

    def val_loss() -> float:  # class centres from the training part, as at search time
        return torch.nn.functional.cross_entropy(embed(xv) @ centres_of(embed(xt)).T / 0.05, yv).item()

    matrix = _early_stopped(a, opt, train_loss, val_loss, decay=decay, epochs=epochs)
    return lambda v: _normalise(v + v @ matrix)


def fit_query_side(x: np.ndarray, y: np.ndarray, *, decay: float, lr: float = 1e-3, seed: int = 0):
    """A residual map on the query only, candidates frozen: score(q, x) = <normalise(q + q A), x>. Nothing
    stored changes, so it serves through every index as it is."""
    import torch

    xt, xv, yt, yv, n_classes, a, opt = _torch_parts(x, y, lr=lr, seed=seed)
    centres = torch.nn.functional.normalize(
        torch.stack([xt[yt == i].mean(0) for i in range(n_classes)]), dim=1
    )

    def loss_on(v: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        z = torch.nn.functional.normalize(v + v @ a, dim=1)
        return torch.nn.functional.cross_entropy(z @ centres.T / 0.05, labels)

    matrix = _early_stopped(a, opt, lambda: loss_on(xt, yt), lambda: loss_on(xv, yv).item(), decay=decay)
    return (lambda v: _normalise(v + v @ matrix)), _normalise


def fit_product(x: np.ndarray, y: np.ndarray, *, decay: float | None = None):
    """What `pixseek adapt` trains (numpy, evaluation/adapt.py), at its weight decay or another."""
    saved = adapt.DECAY
    adapt.DECAY = decay if decay is not None else saved
    try:
        trained = train_query_map(x, list(y))
    finally:
        adapt.DECAY = saved
    return (lambda v: _normalise(v + v @ trained.matrix)), _normalise


def fit_classes(x: np.ndarray, y: np.ndarray, method: str, *, c: float, strength: float):
    """A class adapter of `pixseek adapt` at regularisation c and strength: (query map, candidate map).
    Unsmoothed, as the tables in docs/results.md were made; `adapt_variants.py smoothing` studies that."""
    adapter = as_adapter(train_classes(x, list(y), method=method, c=c, strength=strength, neighbours=0))
    # Unsmoothed, a class-posterior query is extended exactly as a candidate is; the query-only methods
    # map the query and leave candidates frozen
    return (adapter.both_sides if adapter.reranks else adapter.apply), adapter.both_sides


def fit_concat_lda(x: np.ndarray, y: np.ndarray, *, weight: float):
    """The frozen vector beside a weighted LDA projection: unseen classes keep the frozen geometry."""
    lda = LinearDiscriminantAnalysis(solver="eigen", shrinkage="auto").fit(x, y)
    return lambda v: _normalise(np.hstack([_normalise(v), weight * _normalise(lda.transform(v))]))


CANDIDATES = {
    "frozen": lambda x, y: _normalise,
    "lda": fit_lda,
    "whiten": fit_whiten,
    "residual": lambda x, y: fit_residual(x, y, decay=1e-3),
    "residual-strong": lambda x, y: fit_residual(x, y, decay=1e-2),
    "residual-fast": lambda x, y: fit_residual(x, y, decay=1e-4, lr=1e-2),
    "query-side": lambda x, y: fit_query_side(x, y, decay=1e-3),
    "pixseek-adapt": fit_product,
    "query-side-fast": lambda x, y: fit_query_side(x, y, decay=1e-4, lr=1e-2),
    "concat-lda-0.5": lambda x, y: fit_concat_lda(x, y, weight=0.5),
    "concat-lda-1": lambda x, y: fit_concat_lda(x, y, weight=1.0),
}


def _scores(fitted, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Retrieval with a fitted map: one map for queries and candidates, or a (query, candidate) pair."""
    query_map, candidate_map = fitted if isinstance(fitted, tuple) else (fitted, fitted)
    r = retrieval_scores(candidate_map(x), list(y), k=10, queries=query_map(x))
    return {"precision_at_10": round(r.precision_at_10, 4), "map_at_10": round(r.map_at_10, 4)}


def study(db: str, seed: int = 0, only: list[str] | None = None) -> dict:
    arrays = Index(db).arrays()
    keep = [i for i, label in enumerate(arrays.labels) if label]
    x = np.asarray(arrays.vectors[keep], dtype=np.float32)
    y = np.asarray([arrays.labels[i] for i in keep])
    counts = {c: int((y == c).sum()) for c in np.unique(y)}
    ok = np.isin(y, [c for c, n in counts.items() if n >= 4])
    x, y = x[ok], y[ok]
    train, test = train_test_split(np.arange(len(y)), test_size=0.5, stratify=y, random_state=seed)
    classes = np.unique(y)
    rng = np.random.default_rng(seed)
    seen_classes = set(rng.permutation(classes)[: len(classes) // 2])
    on_seen = np.isin(y, list(seen_classes))
    out: dict = {"db": db, "images": len(y), "classes": len(classes)}
    for name, make in CANDIDATES.items():
        if only and name not in only:
            continue
        start = time.perf_counter()
        fitted = make(x[train], y[train])
        seconds = time.perf_counter() - start
        unseen_fit = make(x[on_seen], y[on_seen])
        out[name] = {
            "train_seconds": round(seconds, 2),
            "seen": _scores(fitted, x[test], y[test]),
            "unseen": _scores(unseen_fit, x[~on_seen], y[~on_seen]),
        }
        print(name, json.dumps(out[name]), flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("db")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", nargs="*", help="candidates to run [default: all]")
    parser.add_argument(
        "--decays", nargs="*", type=float, default=[], help="also pixseek-adapt at these decays"
    )
    parser.add_argument(
        "--class-directions", nargs="*", default=[], metavar="C:S",
        help="also the class-direction adapter at these regularisations C and strengths S",
    )  # fmt: skip
    parser.add_argument(
        "--class-posteriors", nargs="*", default=[], metavar="C:S",
        help="also the class-posterior adapter (the default) at these regularisations C and strengths S",
    )  # fmt: skip
    args = parser.parse_args()
    for method, specs in (
        ("class-direction", args.class_directions),
        ("class-posterior", args.class_posteriors),
    ):
        for spec in specs:
            c, strength = (float(v) for v in spec.split(":"))
            name = f"{method}-C{c:g}-s{strength:g}"
            CANDIDATES[name] = lambda x, y, m=method, c=c, s=strength: fit_classes(x, y, m, c=c, strength=s)
            if args.only:
                args.only.append(name)
    for decay in args.decays:
        CANDIDATES[f"pixseek-adapt-{decay:g}"] = lambda x, y, d=decay: fit_product(x, y, decay=d)
        if args.only:
            args.only.append(f"pixseek-adapt-{decay:g}")
    print(json.dumps(study(args.db, args.seed, args.only), indent=2))


if __name__ == "__main__":
    main()
