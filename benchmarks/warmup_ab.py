"""What reading the vector file into the page cache at start is worth to a fresh replica past RAM: evict the
file, open the kept bench catalog as `serve` does (`Index.warm`, with PIXSEEK_ANN_WARMUP as the variant
says), then time single queries through `Index.search_vectors`, each once.

    pixseek bench search --n 10000000 --keep /tmp/b10m --json
    python benchmarks/warmup_ab.py /tmp/b10m --variant off --seed 21
    python benchmarks/warmup_ab.py /tmp/b10m --variant wait --seed 22

Give each run its own `--seed` (its own queries, so its own rows): on a virtual machine the host may cache
blocks an earlier run read. A `wait` run reads the whole file, so an `off` run after it may find the host
holding its rows; run the `off` runs first. Prints one JSON line: the variant, how long `warm()` took, the
warm-up's read rate, and p50, p99 and mean of the first pass.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from pixseek.services import Index
from pixseek.settings import Settings

NOISE = 0.05  # the bench's query noise


def _queries(vector_file: Path, dim: int, n: int, seed: int) -> np.ndarray:
    stored = np.memmap(vector_file, dtype=np.float16, mode="r").reshape(-1, dim)
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(len(stored), size=n, replace=False))
    q = np.asarray(stored[rows], dtype=np.float32) + NOISE * rng.standard_normal((n, dim)).astype(np.float32)
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db")
    parser.add_argument("--variant", choices=["wait", "background", "off"], default="wait")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dim", type=int, default=512)
    args = parser.parse_args()
    vector_file = max(Path(args.db).glob("vectors-v*.f16"), key=lambda p: p.stat().st_mtime)
    queries = _queries(vector_file, args.dim, args.queries, args.seed)
    fd = os.open(vector_file, os.O_RDONLY)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)  # cold, as on a fresh machine
    os.close(fd)
    index = Index(args.db, settings=Settings(compressed_threshold=1000, ann_warmup=args.variant))
    started = time.perf_counter()
    index.warm()
    warm_seconds = time.perf_counter() - started
    seconds = []
    for q in queries:
        t0 = time.perf_counter()
        index.search_vectors(q[None, :], k=10)
        seconds.append(time.perf_counter() - t0)
    ms = np.array(seconds) * 1e3
    result = {
        "variant": args.variant,
        "seed": args.seed,
        "warm_seconds": round(warm_seconds, 1),
        "cached": index.readiness().ann_cached,
        "p50_ms": round(float(np.median(ms)), 2),
        "p99_ms": round(float(np.percentile(ms, 99)), 2),
        "mean_ms": round(float(ms.mean()), 2),
    }
    if args.variant == "wait":
        result["read_mb_per_s"] = round(vector_file.stat().st_size / 1e6 / warm_seconds, 0)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
