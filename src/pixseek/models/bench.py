"""The embed benchmark: image tower latency (batch 1) and throughput (batch 32), fp32 and int8, and text.

Timings go through `OnnxEmbedder` (what indexing and search run), on fixed random pixels so decoding is
not measured. Each figure is the median of `repeats` runs after `warmup` runs.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from pixseek.models.embedder import OnnxEmbedder
from pixseek.models.spec import ModelSpec

THROUGHPUT_BATCH = 32
QUERY = "a photo of a dog playing in the snow"


@dataclass(frozen=True, slots=True)
class TowerTiming:
    """One image tower's figures."""

    batch1_ms: float
    batch32_img_per_s: float


def median_seconds(fn: Callable[[], object], *, repeats: int, warmup: int) -> float:
    """Median wall time of fn over `repeats` calls after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def time_image_tower(embedder: OnnxEmbedder, *, repeats: int, warmup: int) -> TowerTiming:
    """Batch-1 latency and batch-32 throughput of the embedder's image tower."""
    size = embedder.spec.image.size
    pixels = np.random.default_rng(0).standard_normal((THROUGHPUT_BATCH, 3, size, size)).astype(np.float32)
    one = pixels[:1]
    single = median_seconds(lambda: embedder.embed_pixels(one), repeats=repeats, warmup=warmup)
    batch = median_seconds(lambda: embedder.embed_pixels(pixels), repeats=max(3, repeats // 4), warmup=1)
    return TowerTiming(batch1_ms=round(single * 1e3, 2), batch32_img_per_s=round(THROUGHPUT_BATCH / batch, 1))


def bench_embed(folder: Path, *, threads: int | None, repeats: int = 20, warmup: int = 3) -> dict[str, Any]:
    """All figures for one model folder, as the `pixseek bench embed --json` document."""
    spec = ModelSpec.load(folder)
    fp32 = OnnxEmbedder.from_folder(folder, threads=threads, batch_size=THROUGHPUT_BATCH)
    result: dict[str, Any] = {
        "model": spec.name,
        "fp32": asdict(time_image_tower(fp32, repeats=repeats, warmup=warmup)),
        "int8": None,
        "text_batch1_ms": None,
        "threads": threads or ort_default_threads(),
        "onnxruntime": ort.__version__,
    }
    if spec.image.file_int8 is not None:
        int8 = OnnxEmbedder.from_folder(folder, threads=threads, int8=True, batch_size=THROUGHPUT_BATCH)
        result["int8"] = asdict(time_image_tower(int8, repeats=repeats, warmup=warmup))
        result["int8_speedup_batch32"] = round(
            result["int8"]["batch32_img_per_s"] / result["fp32"]["batch32_img_per_s"], 2
        )
    if spec.has_text:
        text = median_seconds(lambda: fp32.embed_texts([QUERY]), repeats=repeats, warmup=warmup)
        result["text_batch1_ms"] = round(text * 1e3, 2)
    return result


def ort_default_threads() -> int:
    """The cores this process may use (ONNX Runtime's default uses about one thread per core)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
