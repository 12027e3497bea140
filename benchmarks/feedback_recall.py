"""Relevance feedback through the product path against exact feedback over every row: recall@k and time.

    python benchmarks/feedback_recall.py /tmp/dups-1m/db --marks 200 --k 100 --trials 3

Each trial draws a query row, marks `--marks` rows relevant among its 300 nearest and as many irrelevant
among the next 700 (exact neighbours; with `--far`, both drawn from the whole catalog), runs
`Index.search` with those marks (maxsim, no adapter), and compares its top k with maxsim scored over all
rows in numpy (search.feedback.scores, the formula the product uses). Past RAM (a catalog from
PIXSEEK_COMPRESSED_THRESHOLD rows) this measures what the codes' candidates and the shared re-score
budget lose. Reads every vector once into RAM (1 GB at 1M x 512).
Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from pixseek.search.feedback import scores
from pixseek.services import Index

_CHUNK = 50_000


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("db", type=Path)
    parser.add_argument("--marks", type=int, default=20, help="relevant marks, and as many irrelevant")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--far", action="store_true", help="draw the marks from the whole catalog, not near the query"
    )
    args = parser.parse_args()
    if not 1 <= args.marks <= 200:
        raise SystemExit("--marks must be from 1 to 200")
    index = Index(args.db)
    m = index._matrix()  # the rows as search sees them
    n = len(m)
    every = np.concatenate([m.row_vectors(np.arange(s, min(n, s + _CHUNK))) for s in range(0, n, _CHUNK)])
    rng = np.random.default_rng(args.seed)
    recalls, seconds = [], []
    for _ in range(args.trials):
        query_row = int(rng.integers(n))
        query = every[query_row].astype(np.float32)
        if args.far:  # the probes' candidates hardly overlap: the budget lowers the refine most
            drawn = rng.choice(np.delete(np.arange(n), query_row), 2 * args.marks, replace=False)
            relevant, irrelevant = drawn[: args.marks], drawn[args.marks :]
        else:
            near = np.argsort(-_chunked(every, query, None, None))[1:1000]
            relevant = rng.choice(near[:300], args.marks, replace=False)
            irrelevant = rng.choice(near[300:], args.marks, replace=False)
        exact = _chunked(every, query, every[relevant], every[irrelevant])
        hidden = {query_row, *relevant.tolist(), *irrelevant.tolist()}
        best = [
            int(i) for i in np.argsort(-exact, kind="stable")[: args.k + len(hidden)] if int(i) not in hidden
        ]
        truth = {m.ids[i] for i in best[: args.k]}
        started = time.perf_counter()
        hits = index.search(
            k=args.k,
            like=m.ids[query_row],
            positive=[m.ids[int(r)] for r in relevant],
            negative=[m.ids[int(r)] for r in irrelevant],
            use_adapter=False,
        )
        seconds.append(time.perf_counter() - started)
        recalls.append(len(truth & {h.id for h in hits}) / args.k)
    print(
        json.dumps(
            {
                "images": n,
                "past_ram": m.vectors is None,
                "marks": args.marks,
                "k": args.k,
                "trials": args.trials,
                "recall_at_k": round(float(np.mean(recalls)), 4),
                "median_seconds": round(float(np.median(seconds)), 3),
            },
            indent=2,
        )
    )


def _chunked(
    vectors: np.ndarray, query: np.ndarray, relevant: np.ndarray | None, irrelevant: np.ndarray | None
) -> np.ndarray:
    """Every row's cosine to `query`, or with marks its maxsim score, a chunk of rows at a time."""
    out = []
    for start in range(0, len(vectors), _CHUNK):
        chunk = vectors[start : start + _CHUNK].astype(np.float32)
        out.append(
            chunk @ query if relevant is None else scores("maxsim", chunk, query, relevant, irrelevant)
        )
    return np.concatenate(out)


if __name__ == "__main__":
    main()
