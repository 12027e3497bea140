"""The runtime table (the paper's Table V) for any folder: index it, then time query embedding and search."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from pixseek.errors import EvaluationError
from pixseek.types import Embedder

SEARCH_K = 10


class BenchIndex(Protocol):
    """The slice of `pixseek.Index` the benchmark drives (kept here so evaluation never imports services)."""

    @property
    def embedder(self) -> Embedder: ...

    def add(self, folder: str | Path) -> Any: ...

    def search(self, *, image: Any = None, k: int = 5) -> list: ...

    def search_vectors(self, vectors: np.ndarray, *, k: int = 5) -> list: ...

    def info(self) -> Any: ...

    def arrays(self) -> Any: ...


def _timings_ms(fn: Callable[[Any], object], items: Sequence[Any]) -> dict[str, float]:
    """Mean, median and p95 wall time of fn(item) per item, after one untimed warm-up call."""
    fn(items[0])
    times = []
    for item in items:
        started = time.perf_counter()
        fn(item)
        times.append(1000 * (time.perf_counter() - started))
    arr = np.asarray(times)
    return {
        "mean": round(float(arr.mean()), 3),
        "median": round(float(np.median(arr)), 3),
        "p95": round(float(np.percentile(arr, 95)), 3),
        "n": len(times),
    }


def run_profile(index: BenchIndex, folder: Path, *, queries: int = 20, seed: int = 0) -> dict[str, Any]:
    """Index `folder` into `index` (expected empty), then time `queries` single-image queries drawn from it.

    - query embedding: decode + preprocess + model for one image (embedder.embed_images);
    - search: top-10 cosine search for one precomputed vector (index.search_vectors);
    - end to end: index.search(image=path): decode, embed and search, no HTTP.
    """
    report = index.add(folder)
    arrays = index.arrays()
    if not arrays.ids:
        raise EvaluationError(f"no image in {folder} could be indexed")
    rng = np.random.default_rng(seed)
    picked = rng.choice(len(arrays.ids), size=min(queries, len(arrays.ids)), replace=False)
    paths = [folder / arrays.paths[i] for i in picked]
    vectors = [arrays.vectors[i : i + 1] for i in picked]
    embedder = index.embedder
    embed = _timings_ms(lambda p: embedder.embed_images([p]), paths)
    search = _timings_ms(lambda v: index.search_vectors(v, k=SEARCH_K), vectors)
    end_to_end = _timings_ms(lambda p: index.search(image=p, k=SEARCH_K), paths)
    info = index.info()
    n, dim = arrays.vectors.shape
    return {
        "folder": str(folder),
        "model": info.model,
        "images": n,
        "dim": dim,
        "failed": len(report.failed),
        "indexing_seconds": round(report.seconds, 3),
        "indexing_images_per_second": round(report.images_per_second, 2),
        "query_embedding_ms": embed,
        "search_ms": search,
        "end_to_end_ms": end_to_end,
        "search_k": SEARCH_K,
        "catalog_bytes": info.bytes_on_disk,
        "vector_bytes": int(n * dim * 4),
        "machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine()},
    }


def render_profile_markdown(result: dict[str, Any]) -> str:
    """Table V for this run."""
    mb = 1024 * 1024

    def ms(key: str) -> str:
        t = result[key]
        return f"{t['median']:.1f} ms median ({t['mean']:.1f} mean, {t['p95']:.1f} p95, n={t['n']})"

    rows = [
        (f"Offline indexing ({result['images']} images)",
         f"{result['indexing_seconds']:.1f} s ({result['indexing_images_per_second']:.1f} images/s)"),
        ("Query embedding (decode + model, 1 image)", ms("query_embedding_ms")),
        (f"Cosine search, top-{result['search_k']} (N={result['images']})", ms("search_ms")),
        ("End to end (Index.search(image=...), no HTTP)", ms("end_to_end_ms")),
        ("Catalog size on disk", f"{result['catalog_bytes'] / mb:.1f} MiB"),
        (f"Raw vectors ({result['images']} x {result['dim']} float32)",
         f"{result['vector_bytes'] / mb:.1f} MiB"),
    ]  # fmt: skip
    lines = [
        f"Runtime of {result['model']} on {result['folder']} ({result['machine']['cpus']} CPUs; "
        f"{result['failed']} files failed)",
        "",
        "| Component | Time |",
        "| --- | ---: |",
        *(f"| {a} | {b} |" for a, b in rows),
    ]
    return "\n".join(lines) + "\n"
