"""Walking a folder of many small files that are not images (logs, sidecars, thumbnails caches): time and
the process's peak memory, then the same through a whole `Index.add` (nothing to embed).

    python benchmarks/scan_bench.py --n 100000 [--images 100]

Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pixseek.indexing.scan import scan  # noqa: E402
from pixseek.services import Index  # noqa: E402
from tests.fakes import FakeEmbedder  # noqa: E402
from tests.indexing.images import make_tree  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--images", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pixseek-scan-") as tmp:
        root = Path(tmp) / "tree"
        for i in range(args.n):  # 100 folders of n/100 tiny files
            folder = root / f"d{i % 100:02d}"
            if i < 100:
                folder.mkdir(parents=True)
            (folder / f"f{i}.txt").write_bytes(b"x")
        make_tree(root / "photos", [f"p/{i}.png" for i in range(args.images)])
        before_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        start = time.perf_counter()
        found = scan(root)
        scan_s = time.perf_counter() - start
        start = time.perf_counter()
        report = Index(Path(tmp) / "db", embedder=FakeEmbedder()).add(root, workers=0)
        add_s = time.perf_counter() - start
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({
        "non_image_files": args.n, "images": len(found.files), "scan_seconds": round(scan_s, 2),
        "index_add_seconds": round(add_s, 2), "added": report.added,
        "peak_rss_mb_before": round(before_mb), "peak_rss_mb_after": round(peak_mb),
    }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
