"""Micro-batching: image queries that arrive together go through the model in one call, off the event loop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")


class ModelRunner:
    """One thread owns the model: ONNX Runtime parallelises inside a call, so calls must not pile up."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pixseek-model")

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class EmbedBatcher:
    """Collects (3, H, W) pixel arrays from concurrent requests and embeds them as one batch.

    A request waits at most for the batch in flight plus its own: while the model runs, new arrivals
    queue up and go together in the next call, so batches grow exactly when load does.
    """

    def __init__(
        self, embed: Callable[[np.ndarray], np.ndarray], runner: ModelRunner, *, max_batch: int = 32
    ) -> None:
        self._embed = embed
        self._runner = runner
        self._max_batch = max_batch
        self._queue: asyncio.Queue[tuple[np.ndarray, asyncio.Future[np.ndarray]]] | None = None
        self._worker: asyncio.Task[None] | None = None
        self.batches = 0  # how many model calls were made (observable in tests)

    async def embed(self, pixels: np.ndarray) -> np.ndarray:
        """One image's pixels -> its embedding (D,)."""
        if self._queue is None or self._worker is None or self._worker.done():
            self._queue = asyncio.Queue()
            self._worker = asyncio.create_task(self._serve(self._queue))
        future: asyncio.Future[np.ndarray] = asyncio.get_running_loop().create_future()
        await self._queue.put((pixels, future))
        return await future

    async def _serve(self, queue: asyncio.Queue[tuple[np.ndarray, asyncio.Future[np.ndarray]]]) -> None:
        while True:
            batch = [await queue.get()]
            while len(batch) < self._max_batch and not queue.empty():
                batch.append(queue.get_nowait())
            live = [(p, f) for p, f in batch if not f.done()]  # drop requests whose client went away
            if not live:
                continue
            try:
                vectors = await self._runner.run(self._embed, np.stack([p for p, _ in live]))
            except Exception as exc:  # hand the failure to every waiting request, keep serving
                for _, future in live:
                    if not future.done():
                        future.set_exception(exc)
                continue
            self.batches += 1
            for (_, future), vector in zip(live, vectors, strict=True):
                if not future.done():
                    future.set_result(vector)

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
