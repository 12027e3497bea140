"""Decode and preprocess files in worker processes, a bounded window ahead of the model."""

from __future__ import annotations

import io
import multiprocessing
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from pathlib import Path

from pixseek.errors import ImageReadError, PixseekError
from pixseek.indexing.hashing import content_hash_bytes
from pixseek.indexing.sources import ObjectFile
from pixseek.types import ImageLoader, LoadedImage

Decoded = LoadedImage | ImageReadError
_MAX_CONSECUTIVE_CRASHES = 3
# In-process decode threads (workers = 0). Two, not one: the model is idle until its first batch is
# decoded, and a single thread that shares the cores with the model's threads fell behind it on large
# progressive JPEGs. On 2 cores, 330 photos with ViT-B/32: 0.846 of the bound with one thread, 0.905 with
# two (benchmarks/stage_bench.py bound --runs 3; docs/scaling.md).
DECODE_THREADS = 2


def load_one(loader: ImageLoader, path: Path | ObjectFile) -> Decoded:
    """Decode one file; an object is fetched once, and hashed here too (see plan.defer_by_etag)."""
    try:
        if isinstance(path, ObjectFile):
            data = path.source.read(path.path)
            return replace(loader(io.BytesIO(data)), content_hash=content_hash_bytes(data))  # type: ignore[arg-type]
        return loader(path)
    except OSError as exc:  # an object that vanished or cannot be read since it was listed
        return ImageReadError(path, f"cannot read: {exc.strerror or exc}")
    except ImageReadError as exc:
        return exc
    except Exception as exc:  # a decoder bug must not stop the run; it is reported per file
        return ImageReadError(path, f"{type(exc).__name__}: {exc}")


def _new_pool(workers: int) -> Executor:
    if workers <= 0:
        return ThreadPoolExecutor(max_workers=DECODE_THREADS, thread_name_prefix="pixseek-decode")
    # spawn: the parent holds ONNX Runtime and LanceDB threads, which must not be forked.
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))


def decode_stream(
    paths: Sequence[Path | ObjectFile], loader: ImageLoader, *, workers: int, prefetch: int
) -> Iterator[Decoded]:
    """Results in input order, decoded ahead while the caller runs the model on the previous batch.

    workers > 0: that many processes. workers = 0: DECODE_THREADS threads in this process; Pillow
    releases the GIL while decoding and resizing, and there is no start-up or pickling cost, which
    wins on small machines (see benchmarks/index_bench.py). At most `prefetch` files are in flight,
    so memory stays bounded however large the folder is.
    """
    pool = _new_pool(workers)
    window: deque[tuple[Path | ObjectFile, Future[Decoded]]] = deque()
    todo = iter(paths)
    crashes = 0  # consecutive pool failures with no decoded file in between
    try:
        while True:
            while len(window) < max(prefetch, 1):
                path = next(todo, None)
                if path is None:
                    break
                window.append((path, pool.submit(load_one, loader, path)))
            if not window:
                return
            path, future = window.popleft()
            try:
                result = future.result()
            except BrokenProcessPool:
                # A worker died (e.g. a decoder crashed hard): blame this file, restart the pool,
                # and resubmit what was in flight. Workers that cannot even start are fatal.
                crashes += 1
                if crashes >= _MAX_CONSECUTIVE_CRASHES:
                    raise PixseekError(
                        "decoder worker processes keep crashing; retry with --workers 0 to decode in-process"
                    ) from None
                yield ImageReadError(path, "the decoder process crashed on this file")
                pool.shutdown(wait=False, cancel_futures=True)
                pool = _new_pool(workers)
                window = deque((p, pool.submit(load_one, loader, p)) for p, _ in window)
                continue
            crashes = 0
            yield result
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
