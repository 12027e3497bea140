"""What each part of the past-RAM refine is worth: time single queries on a kept bench catalog with the
current code, then with one part swapped back for what it replaced.

    pixseek bench search --n 10000000 --keep /tmp/b10m --json
    python benchmarks/refine_ab.py /tmp/b10m --variant current   # then: catalog-order, numpy-rescore

- `catalog-order`: the vector file as builds before the list layout wrote it (`vectors-v<N>.f16`, rows in
  catalog order, one read a row); make it once beside the list-ordered one with `--make-catalog-order`
  (another 10 GB at 10M);
- `numpy-rescore`: the candidates re-scored as before FAISS's float16 search: decoded to float32 (FAISS's
  decoder), multiplied by einsum, the top k selected by numpy;
- `no-prefetch`: spans read one synchronous pread after another even when they come from disk.

Run the variants one after another, twice, with nothing else on the machine, and compare within the run.
Prints one JSON line: the variant, the refine depth, p50 and mean per query over 3 x 200 queries.

`--cold` evicts the vector file from the page cache first (posix_fadvise DONTNEED: no root needed) and times
one pass, so every refined row comes from the disk. Give each cold run its own `--seed` (its own queries,
so its own rows): on a virtual machine the host may cache the blocks an earlier run read, and the
second run over the same rows would then look faster than the disk is:

    python benchmarks/refine_ab.py /tmp/b10m --cold --seed 11 --variant current
    python benchmarks/refine_ab.py /tmp/b10m --cold --seed 12 --variant no-prefetch   # and so on
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
from refine_sweep import open_with_queries  # this folder: run as python benchmarks/refine_ab.py

import pixseek.search.compressed as compressed
import pixseek.search.refine as refine
import pixseek.search.row_file as row_file
from pixseek.search.exact import top_k


def _numpy_rescore(rows: np.ndarray, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    scores, best = top_k(np.einsum("rd,d->r", refine.float32_rows(rows), query)[None, :], k)
    return scores[0], best[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db")
    variants = ["current", "catalog-order", "numpy-rescore", "no-prefetch"]
    parser.add_argument("--variant", choices=variants, default="current")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--cold", action="store_true", help="evict the vector file, then time one pass")
    parser.add_argument("--seed", type=int, default=1, help="which queries (and so which rows)")
    parser.add_argument(
        "--make-catalog-order", action="store_true", help="write the catalog-order copy of the vector file"
    )
    args = parser.parse_args()
    if args.make_catalog_order:
        _, ann, _ = open_with_queries(args.db, 1)
        path = ann.vector_path
        assert path is not None and ann.positions is not None, "the kept catalog's file is not list-ordered"
        order = row_file.list_order(ann._index)  # file position -> catalog row
        row_file.write_in_order(ann.vectors, order, path.with_name(path.name.replace(".lists.f16", ".f16")))
        return
    if args.variant == "catalog-order":
        compressed.file_names = lambda v: (f"pq-v{v}.faiss", "absent")  # type: ignore[assignment]
    elif args.variant == "numpy-rescore":
        refine.rescore_one = _numpy_rescore  # type: ignore[assignment]
    elif args.variant == "no-prefetch":
        row_file._COLD_SPAN_NS = 10**15  # never judged cold
    _, ann, queries = open_with_queries(args.db, args.queries, args.seed)
    if args.cold:
        for path in Path(args.db).glob("vectors-v*.f16"):  # both layouts
            fd = os.open(path, os.O_RDONLY)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            os.close(fd)
    else:
        for q in queries:  # warm the page cache for these queries' rows
            ann.search(q[None, :], 10)
    seconds = []
    for _ in range(1 if args.cold else 3):
        for q in queries:
            started = time.perf_counter()
            ann.search(q[None, :], 10)
            seconds.append(time.perf_counter() - started)
    ms = np.array(seconds) * 1e3
    result = {
        "variant": args.variant,
        "cold": args.cold,
        "seed": args.seed,
        "refine": ann.refine,
        "layout": "catalog" if ann.positions is None else "lists",
        "p50_ms": round(float(np.median(ms)), 2),
        "mean_ms": round(float(ms.mean()), 2),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
