"""`pixseek bench search`: search latency, recall, memory and size at N vectors, through the serving path.

A catalog of N synthetic rows is streamed to disk in chunks (never all in RAM), the index that `serve`
would use at that size is built, and a fresh process opens the catalog and its index, as a replica does,
to time single queries and report its resident memory. Each query is timed twice: the first pass is what
a fresh replica gives (the rows it re-scores may come from disk), the second the steady state (`warm_*`).
Recall@10 is against exact search over the same float16 vectors, streamed from the catalog.

The data: "clustered" draws each row from one of 1,000 Gaussian clusters in 512-d whose noise equals the
centres' scale, so a row's nearest neighbours sit at cosine ~0.5 among many at ~0.25, like image
embeddings within and across categories; "random" is uniform on the sphere, the hardest case for any ANN
(neighbours are barely closer than anything else). Queries are rows plus fresh noise (held-out-like).
"""

from __future__ import annotations

import multiprocessing
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa

from pixseek.catalog import Catalog, IndexMeta
from pixseek.catalog.schema import image_schema
from pixseek.services.index import Index
from pixseek.settings import Settings

DataKind = Literal["clustered", "random"]
IndexChoice = Literal["auto", "exact", "ivf-flat", "ivf-pq"]
BENCH_MODEL = "synthetic"
_CHUNK = 100_000
_CENTRES = 1_000
_QUERY_NOISE = 0.05
_K = 10


@dataclass(frozen=True, slots=True)
class SearchBenchOptions:
    n: int
    data: DataKind = "clustered"
    dim: int = 512
    queries: int = 200
    index: IndexChoice = "auto"
    seed: int = 0


def settings_for(choice: IndexChoice, base: Settings) -> Settings:
    """The settings that make the serving path pick `choice` (auto: what it picks at that size)."""
    big = 10**12
    overrides: dict[str, Any] = {
        "auto": {},
        "exact": {"ann_threshold": big, "compressed_threshold": big},
        "ivf-flat": {"ann_threshold": 0, "compressed_threshold": big},
        "ivf-pq": {"compressed_threshold": 1_000},
    }[choice]
    return base.model_copy(update=overrides)


def index_kind(rows: int, settings: Settings) -> str:
    if rows >= settings.compressed_threshold:
        return "ivf-pq"
    return "ivf-flat" if rows >= settings.ann_threshold else "exact"


def synthetic_chunks(opts: SearchBenchOptions) -> Any:
    """(first row, float32 L2-normalised rows) chunk by chunk; the same seed gives the same data."""
    rng = np.random.default_rng(opts.seed)
    centres = rng.standard_normal((_CENTRES, opts.dim)).astype(np.float32)
    for start in range(0, opts.n, _CHUNK):
        m = min(_CHUNK, opts.n - start)
        x = rng.standard_normal((m, opts.dim)).astype(np.float32)
        if opts.data == "clustered":
            x += centres[rng.integers(0, _CENTRES, m)]
        yield start, x / np.linalg.norm(x, axis=1, keepdims=True)


def _rows(start: int, vectors: np.ndarray, dim: int) -> pa.Table:
    n = len(vectors)
    ids = [f"{i:016x}" for i in range(start, start + n)]
    schema = image_schema(dim)
    columns = {
        "id": ids,
        "root": ["/bench"] * n,
        "path": [f"{i % 1000:03d}/{i}.jpg" for i in range(start, start + n)],
        "size": [0] * n,
        "mtime_ns": [0] * n,
        "content_hash": ids,
        "width": [0] * n,
        "height": [0] * n,
        "label": [f"{i % 1000:03d}" for i in range(start, start + n)],
        "etag": [None] * n,
    }
    arrays = {name: pa.array(values, type=schema.field(name).type) for name, values in columns.items()}
    flat = pa.array(vectors.astype(np.float16).reshape(-1), type=pa.float16())
    arrays["vector"] = pa.FixedSizeListArray.from_arrays(flat, dim)
    return pa.Table.from_pydict(arrays, schema=schema)


def build_catalog(db: Path, opts: SearchBenchOptions) -> np.ndarray:
    """Write the catalog chunk by chunk; return held-out-like queries drawn from its rows."""
    rng = np.random.default_rng(opts.seed + 1)
    picked = np.sort(rng.choice(opts.n, size=min(opts.queries, opts.n), replace=False))
    catalog = Catalog.create(db, IndexMeta(BENCH_MODEL, BENCH_MODEL, "0" * 12, opts.dim))
    queries = []
    for start, vectors in synthetic_chunks(opts):
        catalog.append(_rows(start, vectors, opts.dim))
        inside = picked[(picked >= start) & (picked < start + len(vectors))] - start
        queries.append(vectors[inside])
    catalog.compact()
    q = np.concatenate(queries)
    q = q + _QUERY_NOISE * rng.standard_normal(q.shape).astype(np.float32)
    return (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)


def exact_truth(catalog: Catalog, version: int, queries: np.ndarray, k: int = _K) -> np.ndarray:
    """Row positions of the exact top-k, streamed over the catalog's vectors (never all in RAM)."""
    best_scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
    best_rows = np.full((len(queries), k), -1, dtype=np.int64)
    offset = 0
    for batch in catalog.vector_batches(version):
        scores = queries @ batch.T
        rows = np.broadcast_to(np.arange(offset, offset + len(batch)), scores.shape)
        all_scores = np.concatenate([best_scores, scores], axis=1)
        all_rows = np.concatenate([best_rows, rows], axis=1)
        keep = np.argsort(-all_scores, axis=1, kind="stable")[:, :k]
        best_scores = np.take_along_axis(all_scores, keep, axis=1)
        best_rows = np.take_along_axis(all_rows, keep, axis=1)
        offset += len(batch)
    return best_rows


def _memory_mb() -> dict[str, float]:
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "RssAnon", "RssFile"):
            fields[name] = int(value.split()[0]) / 1024
    return fields


def _probe(db: str, settings: Settings, queries: np.ndarray, result: Any) -> None:
    """In a fresh process: open the catalog and its index as a replica would, time single queries."""
    index = Index(db, settings=settings)
    start = time.perf_counter()
    index.warm()
    load_seconds = time.perf_counter() - start
    index.search_vectors(queries[:1], k=_K)
    latencies, hits = [], []
    for q in queries:
        t0 = time.perf_counter()
        found = index.search_vectors(q[None, :], k=_K)[0]
        latencies.append(time.perf_counter() - t0)
        hits.append([h.id for h in found])
    memory = _memory_mb()  # before the second pass, which reads no new rows
    warm = []
    for q in queries:  # the same queries again: their rows now come from the page cache
        t0 = time.perf_counter()
        index.search_vectors(q[None, :], k=_K)
        warm.append(time.perf_counter() - t0)
    result.send(
        {"latencies": latencies, "warm": warm, "hits": hits, "load_seconds": load_seconds, "memory": memory}
    )


def run(db: Path, opts: SearchBenchOptions, *, settings: Settings) -> dict[str, Any]:
    """The whole benchmark; `db` must not exist yet."""
    settings = settings_for(opts.index, settings)
    started = time.perf_counter()
    queries = build_catalog(db, opts)
    write_seconds = time.perf_counter() - started
    catalog = Catalog.open(db)
    snap = catalog.snapshot(vectors=False)
    truth_rows = exact_truth(catalog, snap.version, queries)
    ids = snap.rows.column("id")
    truth = [{ids[int(r)].as_py() for r in row if r >= 0} for row in truth_rows]
    del snap
    start = time.perf_counter()
    # builds and saves the index this size gets (nothing for exact); a writer reads no file into the cache
    Index(db, settings=settings.model_copy(update={"ann_warmup": "off"})).warm()
    build_seconds = time.perf_counter() - start
    parent, child = multiprocessing.get_context("spawn").Pipe(duplex=False)
    process = multiprocessing.get_context("spawn").Process(
        target=_probe, args=(str(db), settings, queries, child)
    )
    process.start()
    probe = parent.recv()
    process.join()
    latencies_ms, warm_ms = np.array(probe["latencies"]) * 1e3, np.array(probe["warm"]) * 1e3
    recall = float(np.mean([len(t & set(h)) / _K for t, h in zip(truth, probe["hits"], strict=True)]))
    memory = probe["memory"]
    return {
        "n": opts.n,
        "data": opts.data,
        "dim": opts.dim,
        "index": index_kind(opts.n, settings),
        "build_seconds": round(build_seconds, 2),
        "p50_ms": round(float(np.percentile(latencies_ms, 50)), 3),
        "p99_ms": round(float(np.percentile(latencies_ms, 99)), 3),
        "warm_p50_ms": round(float(np.percentile(warm_ms, 50)), 3),
        "warm_p99_ms": round(float(np.percentile(warm_ms, 99)), 3),
        "recall_at_10": round(recall, 4),
        "rss_mb": round(memory["VmRSS"], 1),
        "rss_anon_mb": round(memory.get("RssAnon", 0.0), 1),
        "bytes_on_disk": catalog.bytes_on_disk(),
        "queries": len(queries),
        "load_seconds": round(probe["load_seconds"], 2),
        "write_seconds": round(write_seconds, 2),
    }
