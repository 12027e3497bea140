"""Search benchmarks: exact latency, FAISS IVF latency and recall@10, float16 storage, catalog size.

    python benchmarks/search_bench.py exact --n 10000            # exact top-10 latency at N = 10k
    python benchmarks/search_bench.py ann --n 1000000 --data clustered   # and --data random
    python benchmarks/search_bench.py fp16 [--model NAME_OR_FOLDER]  # top-10 agreement, Tux Paint stamps
    python benchmarks/search_bench.py size --n 9630                # catalog bytes on disk at 512-d

Each prints one JSON object. Synthetic vectors are L2-normalised 512-d float32: "random" is uniform on
the sphere (the hardest case for any ANN: neighbours are barely closer than anything else); "clustered"
is 1,000 Gaussian clusters whose noise equals the centres' scale (--spread 1: neighbours at cosine
~0.5, like CLIP image embeddings within a category), shaped like real embedding collections.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from pixseek.catalog import Catalog, ImageRecord, IndexMeta
from pixseek.catalog.schema import rows_table
from pixseek.search import ExactIndex, IvfIndex

STAMPS = Path("/usr/share/tuxpaint/stamps")


def synthetic(n: int, dim: int, kind: str, seed: int = 0, spread: float = 1.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.empty((n, dim), np.float32)
    centres = rng.standard_normal((1000, dim)).astype(np.float32) if kind == "clustered" else None
    for start in range(0, n, 100_000):  # in chunks: keeps peak memory near the result's size
        m = min(100_000, n - start)
        x = rng.standard_normal((m, dim)).astype(np.float32)
        if centres is not None:
            x = centres[rng.integers(0, len(centres), m)] + spread * x
        out[start : start + m] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def queries_for(data: np.ndarray, q: int, seed: int = 1) -> np.ndarray:
    """Held-out-like queries: data points with fresh noise, renormalised."""
    rng = np.random.default_rng(seed)
    x = data[rng.integers(0, len(data), q)] + 0.05 * rng.standard_normal((q, data.shape[1])).astype(
        np.float32
    )
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def per_query_ms(index: object, queries: np.ndarray, k: int = 10) -> float:
    index.search(queries[:1], k)  # warm-up
    start = time.perf_counter()
    for q in queries:
        index.search(q[None, :], k)
    return (time.perf_counter() - start) / len(queries) * 1000


def recall_at(exact_idx: np.ndarray, approx_idx: np.ndarray) -> float:
    k = exact_idx.shape[1]
    return float(np.mean([len(set(a) & set(b)) / k for a, b in zip(exact_idx, approx_idx, strict=True)]))


def bench_exact(args: argparse.Namespace) -> dict:
    data = synthetic(args.n, args.dim, args.data)
    queries = queries_for(data, args.queries)
    index = ExactIndex(data)
    return {
        "n": args.n,
        "dim": args.dim,
        "data": args.data,
        "exact_ms_per_query": per_query_ms(index, queries),
    }


def bench_ann(args: argparse.Namespace) -> dict:
    started = time.perf_counter()
    data = synthetic(args.n, args.dim, args.data, spread=args.spread)
    queries = queries_for(data, args.queries)
    exact = ExactIndex(data)
    exact_ms = per_query_ms(exact, queries[: min(50, len(queries))])
    _, truth = exact.search(queries, 10)
    t0 = time.perf_counter()
    ann = IvfIndex.build(data)
    build_s = time.perf_counter() - t0
    sweep = []
    for nprobe in args.nprobe:
        ann.nprobe = nprobe
        _, got = ann.search(queries, 10)
        sweep.append(
            {
                "nprobe": nprobe,
                "ms_per_query": per_query_ms(ann, queries),
                "recall_at_10": recall_at(truth, got),
            }
        )
    return {
        "n": args.n,
        "dim": args.dim,
        "data": args.data,
        "spread": args.spread if args.data == "clustered" else None,
        "nlist": ann.nlist,
        "exact_ms_per_query": exact_ms,
        "ivf_build_seconds": build_s,
        "ivf": sweep,
        "threads": int(os.environ.get("OMP_NUM_THREADS", os.cpu_count() or 1)),
        "total_seconds": time.perf_counter() - started,
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6,
    }


def _stamp_vectors(model: str | None) -> tuple[np.ndarray, str]:
    paths = sorted(STAMPS.rglob("*.png"))
    if model and Path(model).is_dir():
        from pixseek.models.embedder import OnnxEmbedder

        embedder = OnnxEmbedder.from_folder(model)
    elif model:
        from pixseek.models.registry import load_embedder
        from pixseek.settings import Settings

        embedder = load_embedder(model, settings=Settings())
    else:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from tests.fakes import FakeEmbedder

        embedder = FakeEmbedder(dim=512)
    return embedder.embed_images(paths), embedder.name


def bench_fp16(args: argparse.Namespace) -> dict:
    v32, name = _stamp_vectors(args.model)
    v16 = v32.astype(np.float16).astype(np.float32)
    v16 /= np.linalg.norm(v16, axis=1, keepdims=True)
    _, a = ExactIndex(v32).search(v32, 11)
    _, b = ExactIndex(v16).search(v32, 11)  # same float32 queries against the float16 catalog
    same_order = float(np.mean([(x[1:] == y[1:]).all() for x, y in zip(a, b, strict=True)]))
    return {
        "model": name,
        "images": len(v32),
        "top10_overlap": recall_at(a[:, 1:], b[:, 1:]),
        "top10_identical_order": same_order,
        "max_abs_score_error": float(np.max(np.abs(v32 @ v32[:50].T - v16 @ v32[:50].T))),
    }


def bench_size(args: argparse.Namespace) -> dict:
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        cat = Catalog.create(Path(tmp) / "db", IndexMeta("clip-vit-b32", "clip-vit-b32", "f" * 12, args.dim))
        for start in range(0, args.n, 1000):  # commit in batches, as indexing does
            ids = range(start, min(start + 1000, args.n))
            records = [
                ImageRecord(
                    f"{i:016x}",
                    "/home/user/datasets/caltech101",
                    f"category_{i % 101:03d}/image_{i:05d}.jpg",
                    int(rng.integers(10_000, 300_000)),
                    1_700_000_000_000_000_000 + i,
                    f"{rng.bytes(16).hex()}",
                    300,
                    200,
                    f"category_{i % 101:03d}",
                )
                for i in ids
            ]
            cat.append(rows_table(records, synthetic(len(records), args.dim, "random", seed=start), args.dim))
        cat.compact()
        return {
            "images": args.n,
            "dim": args.dim,
            "bytes_on_disk": cat.bytes_on_disk(),
            "mb": cat.bytes_on_disk() / 1e6,
        }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("what", choices=["exact", "ann", "fp16", "size"])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--data", choices=["clustered", "random"], default="clustered")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--spread", type=float, default=1.0, help="clustered: noise relative to centres")
    parser.add_argument("--nprobe", type=int, nargs="+", default=[8, 16, 32, 64, 128])
    parser.add_argument("--model", default=None, help="fp16: a model for load_embedder (default: fake)")
    args = parser.parse_args()
    bench = {"exact": bench_exact, "ann": bench_ann, "fp16": bench_fp16, "size": bench_size}[args.what]
    print(json.dumps(bench(args), indent=2))


if __name__ == "__main__":
    main()
