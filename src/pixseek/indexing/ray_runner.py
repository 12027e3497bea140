"""Distributed embedding with Ray Data (optional extra `[ray]`): the same run, with the model on a cluster.

Ray replaces the read + decode + embed stage: each actor fetches its files itself (from a shared folder,
or straight from the object store), so image bytes never pass through the driver. Listing, diffing,
committing and sweeping stay in the calling process, so the catalog is written by exactly the same code
(and under the same lock or lease) as a local run.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pixseek.errors import ImageReadError, PixseekError
from pixseek.indexing.pipeline import Embedded, EmbedStage, RunOptions
from pixseek.indexing.sources import ObjectFile, ObjectStoreSource
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
    """A Ray actor: loads the model once, then reads, decodes and embeds one batch of files per call."""

    def __init__(self, factory: EmbedderFactory, storage_options: Mapping[str, str]) -> None:
        self._embedder = factory()
        self._loader = self._embedder.image_loader()
        self._options = dict(storage_options)

    def _open(self, uri: str, path: str) -> Path | io.BytesIO:
        """A local path as is; an object (uri = its source prefix) fetched into memory once."""
        return ObjectFile(ObjectStoreSource(uri, self._options), path).open() if uri else Path(path)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        dim = self._embedder.dim
        n = len(batch["path"])
        vectors = np.zeros((n, dim), np.float32)
        sizes = np.zeros((n, 2), np.int64)
        errors = [""] * n
        good: list[int] = []
        pixels = []
        for i, (uri, path) in enumerate(zip(batch["uri"], batch["path"], strict=True)):
            try:
                img = self._loader(self._open(str(uri), str(path)))
            except ImageReadError as exc:
                errors[i] = exc.reason
                continue
            except OSError as exc:  # vanished or unreadable between listing and reading
                errors[i] = f"cannot read: {exc.strerror or exc}"
                continue
            good.append(i)
            pixels.append(img.pixels)
            sizes[i] = (img.width, img.height)
        if good:
            vectors[good] = self._embedder.embed_pixels(np.stack(pixels))
        return {"vector": vectors, "size": sizes, "error": np.asarray(errors, dtype=object)}


def cluster_info(actors: int) -> dict[str, int]:
    """What the run had: alive nodes, model actors, GPUs (for the report's "ray" block)."""
    import ray

    if not ray.is_initialized():
        ray.init()  # RAY_ADDRESS, or a local cluster when unset: Ray's own convention
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    return {"nodes": len(nodes), "actors": actors, "gpus": int(ray.cluster_resources().get("GPU", 0))}


def ray_stage(factory: EmbedderFactory, *, actors: int = 1) -> EmbedStage:
    """An embed stage that runs `actors` model replicas under Ray Data's map_batches, order preserved."""
    try:
        import ray
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise PixseekError('distributed indexing needs Ray: pip install "pixseek[ray]"') from exc

    def stage(paths: Sequence[Path | ObjectFile], opts: RunOptions) -> Iterator[Embedded]:
        if not paths:
            return
        ctx = ray.data.DataContext.get_current()
        ctx.execution_options.preserve_order = True  # results must line up with `paths`
        objects = [p for p in paths if isinstance(p, ObjectFile)]
        options = dict(objects[0].source.storage_options) if objects else {}
        rows = [
            {"uri": p.source.uri, "path": p.path}
            if isinstance(p, ObjectFile)
            else {"uri": "", "path": str(p)}
            for p in paths
        ]
        # Fractional CPUs for the read tasks: with whole-CPU reads, actors on 1-CPU nodes can deadlock.
        ds = ray.data.from_items(rows, override_num_blocks=max(1, min(len(rows) // opts.batch_size, 64)))
        ds = ds.map_batches(
            _EmbedBatch,
            fn_constructor_args=(factory, options),
            batch_size=opts.batch_size,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=actors),
            num_cpus=0.5,
        )
        position = 0
        for batch in ds.iter_batches(batch_size=opts.batch_size, batch_format="numpy"):
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
