"""Which compressed index to serve past RAM: FAISS factory strings and refine depths, on clustered data.

    python benchmarks/pq_sweep.py 1000000 "IVF{nlist},PQ128x4fs" 32 500      # the kept setting
    python benchmarks/pq_sweep.py 1000000 "IVF{nlist},PQ64" 32,64 200         # 8-bit PQ: slower to train

Arguments: N, a faiss.index_factory string ({nlist} becomes 2 sqrt(N)), nprobe values, refine depth R (the
candidates re-scored exactly in float16 for k = 10). One thread. Prints train/add seconds, the serialised
size, and p50/p99 per query with recall@10 against exact search, for each nprobe.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import faiss
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from search_bench import queries_for, synthetic

from pixseek.search.exact import ExactIndex


def main() -> None:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("n", type=int, help="rows of synthetic clustered 512-d data")
    parser.add_argument("spec", help="a faiss.index_factory string; {nlist} becomes 2 sqrt(N)")
    parser.add_argument("nprobes", help="nprobe values, comma-separated")
    parser.add_argument("refine", type=int, help="candidates re-scored exactly per query (k = 10)")
    args = parser.parse_args()
    n, spec, refine = args.n, args.spec, args.refine
    nprobes = [int(x) for x in args.nprobes.split(",")]
    faiss.omp_set_num_threads(1)
    data = synthetic(n, 512, "clustered")
    queries = queries_for(data, 200)
    _, truth = ExactIndex(data).search(queries, 10)
    nlist = int(2 * np.sqrt(n))
    index = faiss.index_factory(512, spec.format(nlist=nlist), faiss.METRIC_INNER_PRODUCT)
    faiss.extract_index_ivf(index).cp.niter = 10
    sample = data[np.random.default_rng(0).choice(n, min(n, max(nlist * 32, 65_536)), replace=False)]
    started = time.time()
    index.train(sample)
    trained = time.time()
    for start in range(0, n, 100_000):
        index.add(data[start : start + 100_000])
    added = time.time()
    size = len(faiss.serialize_index(index))
    print(f"{spec}: train {trained - started:.1f} s, add {added - trained:.1f} s, {size:,} bytes")
    stored = data.astype(np.float16)
    for nprobe in nprobes:
        params = faiss.SearchParametersIVF(nprobe=nprobe)
        latencies, recall = [], 0.0
        for i, q in enumerate(queries):
            t0 = time.perf_counter()
            _, cand = index.search(q[None, :], refine, params=params)
            rows = np.sort(cand[0][cand[0] >= 0])
            best = rows[np.argsort(-(stored[rows].astype(np.float32) @ q))[:10]]
            latencies.append(time.perf_counter() - t0)
            recall += len(set(best.tolist()) & set(truth[i].tolist())) / 10
        ms = np.array(latencies) * 1e3
        print(
            f"  nprobe {nprobe}, R {refine}: p50 {np.median(ms):.2f} ms, p99 {np.percentile(ms, 99):.2f} ms, "
            f"recall@10 {recall / len(queries):.3f}"
        )


if __name__ == "__main__":
    main()
