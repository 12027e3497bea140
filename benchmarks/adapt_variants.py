"""Variants of `pixseek adapt`, measured on the splits `pixseek eval --adapt` uses (evaluation/adaptation.py).

    python benchmarks/adapt_variants.py steps /tmp/tux.db --seeds 42 0 7 --rates 1e-3 2e-3 4e-3
    python benchmarks/adapt_variants.py prototypes /tmp/tux.db --seed 42
    python benchmarks/adapt_variants.py pool /tmp/tux.db --seed 42 --pools 50 100 200 400
    python benchmarks/adapt_variants.py smoothing /tmp/tux.db --seeds 42 0 7 --settings 0.5:0:0 0.8:3:0.4

`steps` reruns the adapter's training at other Adam step sizes: mAP@10 change on seen and unseen classes,
and the seconds to train the seen-class adapter. `prototypes` tries a training-free alternative: pull each
query toward the class means it is close to, q' = normalise(q + beta * sum_k p_k c_k) with p a softmax of
q.c_k / tau, applied only where max p >= gate. `pool` asks how many of the plain query's nearest
candidates the class-posterior adapter must re-score, as a search does (RERANK_POOL), to keep the gain of
re-scoring every row. `smoothing` sweeps class-posterior's strength s, neighbours k and mix a (as S:K:A)
through `pixseek eval --adapt`'s own code (its labelled set, splits, and the search's pool and scores).
Each prints one line per setting.
"""

from __future__ import annotations

import argparse

import numpy as np
from sklearn.model_selection import train_test_split

from pixseek.evaluation import adapt
from pixseek.evaluation.adaptation import MIN_PER_CLASS, compare
from pixseek.evaluation.metrics import retrieval_scores
from pixseek.evaluation.splits import MIN_PER_CLASS as SPLIT_MIN_PER_CLASS
from pixseek.evaluation.splits import labelled_set
from pixseek.services import Index


def _labelled(db: str) -> tuple[np.ndarray, np.ndarray]:
    m = Index(db)._matrix()
    rows = np.array([i for i, label in enumerate(m.labels) if label], dtype=np.int64)
    return m.row_vectors(rows).astype(np.float32), np.array([str(m.labels[i]) for i in rows], dtype=object)


def steps(db: str, seeds: list[int], rates: list[float]) -> None:
    x, y = _labelled(db)
    for rate in rates:
        adapt.LEARNING_RATE = rate
        for seed in seeds:
            r = compare(x, list(y), seed=seed, method="query-residual")  # the method these steps train
            gain = {k: r[k]["adapted"]["map_at_10"] - r[k]["frozen"]["map_at_10"] for k in ("seen", "unseen")}
            print(
                f"rate {rate:g} seed {seed}: seen {gain['seen']:+.4f} unseen {gain['unseen']:+.4f} "
                f"train {r['train_seconds']:.2f} s"
            )


def _means(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    c = np.stack([x[y == k].mean(0) for k in np.unique(y)])
    return c / np.linalg.norm(c, axis=1, keepdims=True)


def _expand(q: np.ndarray, means: np.ndarray, beta: float, tau: float, gate: float) -> np.ndarray:
    s = q @ means.T / tau
    p = np.exp(s - s.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    out = q + beta * (p.max(1) >= gate)[:, None] * (p @ means)
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def prototypes(db: str, seed: int) -> None:
    x, y = _labelled(db)
    names, counts = np.unique(y, return_counts=True)
    kept = names[counts >= MIN_PER_CLASS]
    x, y = x[np.isin(y, kept)], y[np.isin(y, kept)]
    train, test = train_test_split(np.arange(len(y)), test_size=0.5, stratify=y, random_state=seed)
    fitted = np.random.default_rng(seed).permutation(kept)[: len(kept) // 2]
    on_fitted = np.isin(y, fitted)
    cases = {
        "seen": (x[test], y[test], _means(x[train], y[train])),
        "unseen": (x[~on_fitted], y[~on_fitted], _means(x[on_fitted], y[on_fitted])),
    }

    def gain(case: str, beta: float, tau: float, gate: float) -> float:
        xs, ys, means = cases[case]
        labels = list(ys)
        frozen = retrieval_scores(xs, labels, k=10).map_at_10
        moved = _expand(xs, means, beta, tau, gate)
        return retrieval_scores(xs, labels, k=10, queries=moved).map_at_10 - frozen

    for beta in (0.5, 1.0, 2.0):
        for tau in (0.02, 0.05):
            for gate in (0.0, 0.5, 0.8, 0.95):
                print(
                    f"beta {beta} tau {tau} gate {gate}: seen {gain('seen', beta, tau, gate):+.3f} "
                    f"unseen {gain('unseen', beta, tau, gate):+.3f}"
                )


def _map_at_10(scores: np.ndarray, y: np.ndarray) -> float:
    """Leave-one-out mAP@10 from a square score matrix, written out here (as evaluation.metrics defines
    it: AP@10 divided by min(10, relevant))."""
    scores = scores.copy()
    np.fill_diagonal(scores, -np.inf)
    ap = []
    for i in range(len(y)):
        relevant = int((y == y[i]).sum()) - 1
        if relevant:
            hits = y[np.argsort(-scores[i], kind="stable")[:10]] == y[i]
            ap.append(float((np.cumsum(hits) / np.arange(1, 11) * hits).sum() / min(10, relevant)))
    return float(np.mean(ap))


def pool(db: str, seed: int, pools: list[int]) -> None:
    from pixseek.evaluation.adapters import as_adapter, train_adapter

    x, y = _labelled(db)
    names, counts = np.unique(y, return_counts=True)
    kept = names[counts >= MIN_PER_CLASS]
    x, y = x[np.isin(y, kept)], y[np.isin(y, kept)]
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    train, test = train_test_split(np.arange(len(y)), test_size=0.5, stratify=y, random_state=seed)
    fitted = np.random.default_rng(seed).permutation(kept)[: len(kept) // 2]
    on_fitted = np.isin(y, fitted)
    cases = {"seen": (train, test), "unseen": (np.flatnonzero(on_fitted), np.flatnonzero(~on_fitted))}
    for case, (fit_rows, eval_rows) in cases.items():
        unsmoothed = {"strength": 0.5, "neighbours": 0}  # as this study was run (docs/results.md)
        trained = train_adapter(x[fit_rows], list(y[fit_rows]), method="class-posterior", settings=unsmoothed)
        adapter = as_adapter(trained)
        xs, ys = x[eval_rows], y[eval_rows]
        plain = xs @ xs.T
        both = adapter.both_sides(xs)
        full = both @ both.T
        frozen = _map_at_10(plain, ys)
        line = [f"{case}: frozen {frozen:.4f}, every row {_map_at_10(full, ys) - frozen:+.4f}"]
        for size in pools:
            nearest = plain.copy()
            np.fill_diagonal(nearest, -np.inf)
            kept_rows = np.argsort(-nearest, axis=1)[:, :size]
            pooled = np.full_like(full, -np.inf)
            np.put_along_axis(pooled, kept_rows, np.take_along_axis(full, kept_rows, axis=1), axis=1)
            line.append(f"pool {size} {_map_at_10(pooled, ys) - frozen:+.4f}")
        print(", ".join(line), flush=True)


def smoothing(db: str, seeds: list[int], settings: list[str]) -> None:
    arrays = Index(db).arrays()
    data = labelled_set(arrays.vectors, arrays.labels, arrays.paths, min_per_class=SPLIT_MIN_PER_CLASS)
    labels = [str(v) for v in data.labels]
    for setting in settings:
        strength, neighbours, mix = setting.split(":")
        chosen = {"strength": float(strength), "neighbours": int(neighbours), "mix": float(mix)}
        gains = []
        for seed in seeds:
            r = compare(data.vectors, labels, seed=seed, settings=chosen)
            gains.append(
                [r[k]["adapted"]["map_at_10"] - r[k]["frozen"]["map_at_10"] for k in ("seen", "unseen")]
            )
        each = "  ".join(f"{seed}: {g[0]:+.4f} / {g[1]:+.4f}" for seed, g in zip(seeds, gains, strict=True))
        mean = np.mean(gains, axis=0)
        print(
            f"s {strength} k {neighbours} a {mix}  mean {mean[0]:+.4f} / {mean[1]:+.4f}  ({each})", flush=True
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    st = sub.add_parser("steps")
    st.add_argument("db")
    st.add_argument("--seeds", type=int, nargs="+", default=[42])
    st.add_argument("--rates", type=float, nargs="+", default=[adapt.LEARNING_RATE])
    pr = sub.add_parser("prototypes")
    pr.add_argument("db")
    pr.add_argument("--seed", type=int, default=42)
    po = sub.add_parser("pool")
    po.add_argument("db")
    po.add_argument("--seed", type=int, default=42)
    po.add_argument("--pools", type=int, nargs="+", default=[50, 100, 200, 400])
    sm = sub.add_parser("smoothing")
    sm.add_argument("db")
    sm.add_argument("--seeds", type=int, nargs="+", default=[42])
    sm.add_argument("--settings", nargs="+", default=["0.8:3:0.4"], help="S:K:A each")
    args = parser.parse_args()
    if args.command == "steps":
        steps(args.db, args.seeds, args.rates)
    elif args.command == "pool":
        pool(args.db, args.seed, args.pools)
    elif args.command == "smoothing":
        smoothing(args.db, args.seeds, args.settings)
    else:
        prototypes(args.db, args.seed)


if __name__ == "__main__":
    main()
