"""What the per-request catalog version check costs a search: single queries through `Index.search_vectors`
(the serving path) on a kept bench catalog, with the check as it is (one stat of the images table's
`_versions` folder while the catalog is still) or forced through Lance on every call.

    pixseek bench search --n 2000000 --keep /tmp/b2m --json
    for i in 1 2 3; do for v in stat lance; do
        python benchmarks/version_check_ab.py /tmp/b2m --variant $v
    done; done

Each run is a fresh process; prints one JSON line: the variant, p50 and mean per query over 3 x 200 queries.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from refine_sweep import open_with_queries  # this folder: run as python benchmarks/version_check_ab.py

import pixseek.catalog.version_watch as version_watch
from pixseek.services import Index
from pixseek.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db")
    parser.add_argument("--variant", choices=["stat", "lance"], default="stat")
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    if args.variant == "lance":
        version_watch.SETTLED_SECONDS = float("inf")  # the folder never counts as still: Lance every call
    _, _, queries = open_with_queries(args.db, args.queries)
    index = Index(args.db, settings=Settings(ann_warmup="off"))
    index.warm()
    for q in queries:
        index.search_vectors(q[None, :], k=10)
    seconds = []
    for _ in range(3):
        for q in queries:
            started = time.perf_counter()
            index.search_vectors(q[None, :], k=10)
            seconds.append(time.perf_counter() - started)
    ms = np.array(seconds) * 1e3
    print(
        json.dumps(
            {
                "variant": args.variant,
                "p50_ms": round(float(np.median(ms)), 2),
                "mean_ms": round(float(ms.mean()), 2),
            }
        )
    )


if __name__ == "__main__":
    main()
