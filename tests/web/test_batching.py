"""Image queries that arrive together share one model call; a failing call fails only its own batch."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

from pixseek.web.batching import EmbedBatcher, ModelRunner


def test_concurrent_requests_are_batched() -> None:
    calls: list[int] = []
    gate = threading.Event()

    def embed(pixels: np.ndarray) -> np.ndarray:
        gate.wait(timeout=5)  # the first call blocks while the other requests queue up
        calls.append(len(pixels))
        return pixels.reshape(len(pixels), -1)[:, :4] * 2

    async def main() -> list[np.ndarray]:
        runner = ModelRunner()
        batcher = EmbedBatcher(embed, runner, max_batch=32)
        first = asyncio.create_task(batcher.embed(np.full((1, 2, 2), 0.0, np.float32)))
        await asyncio.sleep(0.05)
        rest = [asyncio.create_task(batcher.embed(np.full((1, 2, 2), i, np.float32))) for i in range(1, 10)]
        await asyncio.sleep(0.05)
        gate.set()
        out = await asyncio.gather(first, *rest)
        await batcher.close()
        runner.close()
        return out

    out = asyncio.run(main())
    assert calls == [1, 9]  # the nine that arrived during the first call went together
    for i, vector in enumerate(out):
        np.testing.assert_array_equal(vector, np.full(4, 2 * i, np.float32))  # each got its own row


def test_a_failing_batch_reports_to_its_requests_and_the_batcher_keeps_serving() -> None:
    fail = [True]

    def embed(pixels: np.ndarray) -> np.ndarray:
        if fail.pop(0) if fail else False:
            raise RuntimeError("model exploded")
        return np.ones((len(pixels), 3), np.float32)

    async def main() -> np.ndarray:
        runner = ModelRunner()
        batcher = EmbedBatcher(embed, runner)
        with pytest.raises(RuntimeError, match="exploded"):
            await batcher.embed(np.zeros((1, 1, 1), np.float32))
        out = await batcher.embed(np.zeros((1, 1, 1), np.float32))
        await batcher.close()
        runner.close()
        return out

    np.testing.assert_array_equal(asyncio.run(main()), np.ones(3, np.float32))
