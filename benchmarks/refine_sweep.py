"""Recall and latency of the compressed index against its settings, on a kept bench catalog: how deep
the exact refine (and how wide the probe) must go as N grows.

    pixseek bench search --n 10000000 --keep /tmp/b10m --json
    python benchmarks/refine_sweep.py /tmp/b10m --nprobe 32,64 --refine 50,100,150,200 --truth /tmp/t.npy

Queries are catalog rows plus fresh noise (as the bench draws them); the truth is exact search over the
catalog's float16 vectors, streamed. Each setting is timed one query at a time through the index the
serving path loads. Prints one JSON line per (nprobe, refine).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from pixseek.catalog import Catalog
from pixseek.search import SearchMatrix
from pixseek.search.compressed import CompressedIndex
from pixseek.services import Index
from pixseek.services.search_bench import exact_truth
from pixseek.settings import Settings

NOISE = 0.05  # the bench's query noise


def open_with_queries(db: str, n: int, seed: int = 1) -> tuple[SearchMatrix, CompressedIndex, np.ndarray]:
    """The kept catalog as the serving path loads it, its compressed index, and n seeded queries (catalog
    rows plus the bench's noise)."""
    index = Index(db, settings=Settings(compressed_threshold=1000, ann_warmup="off"))
    index.warm()
    matrix = index._matrix()
    ann = matrix.ann(None)
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(len(matrix), size=n, replace=False))
    queries = ann.row_vectors(rows) + NOISE * rng.standard_normal((len(rows), matrix.dim)).astype(np.float32)
    return matrix, ann, queries / np.linalg.norm(queries, axis=1, keepdims=True)  # type: ignore[return-value]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db")
    parser.add_argument("--nprobe", default="32")
    parser.add_argument("--refine", default="50")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument(
        "--passes", type=int, default=1, help="time each setting this many times (the page cache warms)"
    )
    parser.add_argument(
        "--truth", type=Path, help="keep the exact answers in this .npy file, and reuse it when it exists"
    )
    args = parser.parse_args()
    matrix, ann, queries = open_with_queries(args.db, args.queries)
    started = time.perf_counter()
    if args.truth is not None and args.truth.is_file():
        truth = np.load(args.truth)
    else:
        truth = exact_truth(Catalog.open(args.db), matrix.version, queries)
        if args.truth is not None:
            np.save(args.truth, truth)
    print(json.dumps({"truth_seconds": round(time.perf_counter() - started, 1)}), flush=True)
    settings = [(int(p), int(r)) for p in args.nprobe.split(",") for r in args.refine.split(",")]
    for pass_number in range(1, args.passes + 1):
        for nprobe, refine in settings:
            tuned = ann.with_params(nprobe=nprobe, refine=refine)  # type: ignore[union-attr]
            tuned.search(queries[:1], 10)
            latencies, recalls = [], []
            for q, want in zip(queries, truth, strict=True):
                t0 = time.perf_counter()
                _, got = tuned.search(q[None, :], 10)
                latencies.append(time.perf_counter() - t0)
                recalls.append(len(set(want.tolist()) & set(got[0].tolist())) / 10)
            ms = np.array(latencies) * 1e3
            result = {
                "n": len(matrix),
                "pass": pass_number,
                "nprobe": nprobe,
                "refine": refine,
                "recall_at_10": round(float(np.mean(recalls)), 4),
                "p50_ms": round(float(np.percentile(ms, 50)), 2),
                "p99_ms": round(float(np.percentile(ms, 99)), 2),
            }
            print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
