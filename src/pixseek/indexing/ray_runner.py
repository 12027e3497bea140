"""Distributed embedding with Ray Data (optional extra `[ray]`): the same run, with the model on a cluster.

Ray replaces the read + decode + embed stage: each actor fetches its files itself (from a shared folder,
or straight from the object store), so image bytes never pass through the driver. Listing, diffing,
committing and sweeping stay in the calling process, so the catalog is written by exactly the same code
(and under the same lock or lease) as a local run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pixseek.errors import ImageReadError, PixseekError
from pixseek.indexing.decode import load_one
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
        self._sources: dict[str, ObjectStoreSource] = {}

    def _item(self, uri: str, path: str) -> Path | ObjectFile:
        """A local path as is; an object (uri = its source prefix), one source per prefix per actor."""
        if not uri:
            return Path(path)
        if uri not in self._sources:
            self._sources[uri] = ObjectStoreSource(uri, self._options)
        return ObjectFile(self._sources[uri], path)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        n = len(batch["path"])
        vectors = np.zeros((n, self._embedder.dim), np.float32)
        sizes = np.zeros((n, 2), np.int64)
        errors, hashes = [""] * n, [""] * n
        good: list[int] = []
        pixels = []
        for i, (uri, path) in enumerate(zip(batch["uri"], batch["path"], strict=True)):
            img = load_one(self._loader, self._item(str(uri), str(path)))  # fetched once, hashed if an object
            if isinstance(img, ImageReadError):
                errors[i] = img.reason
                continue
            good.append(i)
            pixels.append(img.pixels)
            sizes[i] = (img.width, img.height)
            hashes[i] = img.content_hash or ""
        if good:
            vectors[good] = self._embedder.embed_pixels(np.stack(pixels))
        return {
            "vector": vectors,
            "size": sizes,
            "error": np.asarray(errors, dtype=object),
            "hash": np.asarray(hashes, dtype=object),
        }


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
            for vector, (width, height), error, digest in zip(
                batch["vector"], batch["size"], batch["error"], batch["hash"], strict=True
            ):
                path = paths[position]
                position += 1
                if error:
                    yield ImageReadError(path, str(error)), None
                else:
                    loaded = LoadedImage(_NO_PIXELS, int(width), int(height), str(digest) or None)
                    yield loaded, np.asarray(vector, np.float32)

    return stage
