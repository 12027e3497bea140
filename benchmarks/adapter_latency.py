"""What an adapter costs a search: p50 and p99 of `Index.search` through each adapter method, against the
same queries with `use_adapter=False`, on a kept bench catalog (past RAM from 1M rows).

    python benchmarks/duplicates_bench.py synthetic /tmp/dups-1m --n 1000000  # or: bench search --keep
    python benchmarks/adapter_latency.py /tmp/dups-1m/db --queries 200

The synthetic rows have no labels, so the adapters are stored with random weights for 10 classes
(strengths and smoothing as `pixseek adapt` sets them): this measures cost, not quality. It replaces the
catalog's adapter, and removes it at the end. Prints one JSON line per method, with the frozen run for
comparison.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from pathlib import Path

import numpy as np

from pixseek import Query
from pixseek.catalog import AdapterRecord, Catalog
from pixseek.evaluation.adapt_classes import MIX, NEIGHBOURS, STRENGTHS
from pixseek.services import Index


def _record(method: str, dim: int, fingerprint: str, rng: np.random.Generator) -> AdapterRecord:
    classes = tuple(f"c{i}" for i in range(10))
    neighbours, mix = (NEIGHBOURS, MIX) if method == "class-posterior" else (0, 0.0)
    if method == "query-residual":
        matrix, strength = 0.01 * rng.standard_normal((dim, dim)), 0.0
    else:
        matrix, strength = 5 * rng.standard_normal((10, dim + 1)), STRENGTHS[method]
    created = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    matrix = matrix.astype(np.float32)
    return AdapterRecord(method, fingerprint, classes, 0, created, matrix, strength, neighbours, mix)


def _times(index: Index, queries: np.ndarray, *, use_adapter: bool) -> dict[str, float]:
    took = []
    for q in queries:
        start = time.perf_counter()
        index.search(Query(vectors=((q, 1.0),), use_adapter=use_adapter), k=10)
        took.append(time.perf_counter() - start)
    ms = 1000 * np.array(took)
    return {
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p99_ms": round(float(np.percentile(ms, 99)), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db", type=Path)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    index = Index(args.db)
    index.warm()
    catalog = Catalog.open(args.db)
    dim = catalog.meta.dim
    queries = rng.standard_normal((args.queries, dim)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    _times(index, queries[:20], use_adapter=False)  # warm the code paths
    try:
        for method in ("class-posterior", "class-direction", "query-residual"):
            catalog.set_adapter(_record(method, dim, catalog.meta.fingerprint, rng))
            index = Index(args.db)
            index.warm()
            assert index.adapter() is not None and index.adapter().method == method
            _times(index, queries[:20], use_adapter=True)
            adapted = _times(index, queries, use_adapter=True)
            frozen = _times(index, queries, use_adapter=False)
            print(json.dumps({"method": method, "rows": len(index._matrix()), "adapted": adapted,
                              "frozen": frozen}), flush=True)  # fmt: skip
    finally:
        catalog.set_adapter(None)


if __name__ == "__main__":
    main()
