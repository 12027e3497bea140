"""Distributed embedding with Ray Data (optional extra `[ray]`): the same run, with the model on a cluster.

Ray only replaces the embed stage: scanning, diffing, committing and sweeping stay in the calling
process, so the catalog is written by exactly the same code (and under the same lock) as a local run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pixseek.errors import ImageReadError, PixseekError
from pixseek.indexing.pipeline import Embedded, EmbedStage, RunOptions
from pixseek.types import Embedder, LoadedImage

EmbedderFactory = Callable[[], Embedder]
_NO_PIXELS = np.zeros((0,), np.float32)


@dataclass(frozen=True)
class Provide:
    """A picklable factory that hands out an embedder that is itself picklable (e.g. a test double)."""

    embedder: Embedder

    def __call__(self) -> Embedder:
        return self.embedder


class _EmbedBatch:
    """A Ray actor: loads the model once, then decodes and embeds one batch of paths per call."""

    def __init__(self, factory: EmbedderFactory) -> None:
        self._embedder = factory()
        self._loader = self._embedder.image_loader()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        dim = self._embedder.dim
        n = len(batch["path"])
        vectors = np.zeros((n, dim), np.float32)
        sizes = np.zeros((n, 2), np.int64)
        errors = [""] * n
        good: list[int] = []
        pixels = []
        for i, path in enumerate(batch["path"]):
            try:
                img = self._loader(Path(str(path)))
            except ImageReadError as exc:
                errors[i] = exc.reason
                continue
            good.append(i)
            pixels.append(img.pixels)
            sizes[i] = (img.width, img.height)
        if good:
            vectors[good] = self._embedder.embed_pixels(np.stack(pixels))
        return {"vector": vectors, "size": sizes, "error": np.asarray(errors, dtype=object)}


def ray_stage(factory: EmbedderFactory, *, actors: int = 1) -> EmbedStage:
    """An embed stage that runs `actors` model replicas under Ray Data's map_batches, order preserved."""
    try:
        import ray
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise PixseekError('distributed indexing needs Ray: pip install "pixseek[ray]"') from exc

    def stage(paths: Sequence[Path], opts: RunOptions) -> Iterator[Embedded]:
        if not paths:
            return
        ctx = ray.data.DataContext.get_current()
        ctx.execution_options.preserve_order = True  # results must line up with `paths`
        ds = ray.data.from_items([{"path": str(p)} for p in paths])
        ds = ds.map_batches(
            _EmbedBatch,
            fn_constructor_args=(factory,),
            batch_size=opts.batch_size,
            batch_format="numpy",
            concurrency=actors,
        )
        rows = ds.iter_batches(batch_size=opts.batch_size, batch_format="numpy")
        position = 0
        for batch in rows:
            for vector, (width, height), error in zip(
                batch["vector"], batch["size"], batch["error"], strict=True
            ):
                path = paths[position]
                position += 1
                if error:
                    yield ImageReadError(path, str(error)), None
                else:
                    yield LoadedImage(_NO_PIXELS, int(width), int(height)), np.asarray(vector, np.float32)

    return stage
