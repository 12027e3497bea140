"""What one relevance-feedback search costs: time and peak memory for N relevant and N irrelevant marks.

    python benchmarks/feedback_cost.py DB --marks 20 --k 1000
    PIXSEEK_COMPRESSED_THRESHOLD=1000 python benchmarks/feedback_cost.py DB --marks 200 --k 1000  # past RAM

The query is `--like` the catalog's first row; the marks are the next N rows (relevant) and N rows from
the middle (irrelevant), through `Index.search` as the CLI and the server call it, once, in a fresh
process (so the peak RSS includes loading the catalog: compare with `--marks 0`). Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

from pixseek.services import Index


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("db", type=Path)
    parser.add_argument("--marks", type=int, default=20, help="relevant marks, and as many irrelevant")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--no-adapter", action="store_true")
    args = parser.parse_args()
    index = Index(args.db)
    ids = list(index.arrays().ids)
    middle = len(ids) // 2
    if len(ids) < middle + args.marks or args.marks + 1 > middle:
        raise SystemExit(f"{args.db} has {len(ids)} images: too few for {args.marks} marks of each kind")
    positive, negative = ids[1 : 1 + args.marks], ids[middle : middle + args.marks]
    start = time.perf_counter()
    hits = index.search(
        k=args.k, like=ids[0], positive=positive, negative=negative, use_adapter=not args.no_adapter
    )
    seconds = time.perf_counter() - start
    print(
        json.dumps(
            {
                "images": len(ids),
                "marks": args.marks,
                "k": args.k,
                "results": len(hits),
                "seconds": round(seconds, 3),
                "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
