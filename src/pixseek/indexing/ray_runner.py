"""Distributed embedding with Ray Data (optional extra `[ray]`): the same run, with the model on a cluster.

Ray replaces the read + decode + embed stage: each actor fetches its files itself (from a shared folder,
or straight from the object store), so image bytes never pass through the driver. Into an object-store
catalog the actors also append the new rows themselves, fenced by the run's lease. Listing, diffing,
updates, renames and the sweep stay in the calling process, under the same lock or lease as a local run.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from pixseek.catalog import ImageRecord
from pixseek.catalog.row_writer import RowWriter
from pixseek.errors import ImageReadError, PixseekError
from pixseek.indexing.decode import load_one
from pixseek.indexing.pipeline import Embedded, EmbedStage, RunOptions, Writes
from pixseek.indexing.plan import DEFERRED_HASH
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
    """A Ray actor: loads the model once, then reads, decodes and embeds one batch of files per call; with
    a RowWriter it also appends the batch's new rows to the catalog itself (one atomic append per call)."""

    def __init__(
        self,
        factory: EmbedderFactory,
        storage_options: Mapping[str, str],
        writer: RowWriter | None,
        chunk: int,
    ) -> None:
        self._embedder = factory()
        self._loader = self._embedder.image_loader()
        self._options = dict(storage_options)
        self._sources: dict[str, ObjectStoreSource] = {}
        self._writer = writer
        self._chunk = chunk  # images per model call

    def _item(self, uri: str, path: str) -> Path | ObjectFile:
        """A local path as is; an object (uri = its source prefix), one source per prefix per actor."""
        if not uri:
            return Path(path)
        if uri not in self._sources:
            self._sources[uri] = ObjectStoreSource(uri, self._options)
        return ObjectFile(self._sources[uri], path)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        """Decode in a background thread while the model runs on the chunk before (PIL and ONNX Runtime
        both release the GIL), as the local pipeline overlaps them."""
        n = len(batch["path"])
        vectors = np.zeros((n, self._embedder.dim), np.float32)
        sizes = np.zeros((n, 2), np.int64)
        errors, hashes = [""] * n, [""] * n
        good: list[int] = []
        items = [
            self._item(str(uri), str(path)) for uri, path in zip(batch["uri"], batch["path"], strict=True)
        ]
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="pixseek-decode") as pool:
            decoded = [pool.submit(load_one, self._loader, item) for item in items]  # fetched once, hashed
            for start in range(0, n, self._chunk):
                rows, pixels = [], []
                for i in range(start, min(start + self._chunk, n)):
                    img = decoded[i].result()
                    decoded[i] = None  # type: ignore[call-overload]  # let its pixels go once embedded
                    if isinstance(img, ImageReadError):
                        errors[i] = img.reason
                        continue
                    rows.append(i)
                    pixels.append(img.pixels)
                    sizes[i] = (img.width, img.height)
                    hashes[i] = img.content_hash or ""
                if rows:
                    vectors[rows] = self._embedder.embed_pixels(np.stack(pixels))
                good.extend(rows)
        written = self._write(batch["write"], good, vectors, sizes, hashes)
        return {
            "vector": vectors,
            "size": sizes,
            "error": np.asarray(errors, dtype=object),
            "hash": np.asarray(hashes, dtype=object),
            "written": written,
        }

    def _write(
        self,
        templates: np.ndarray,
        good: list[int],
        vectors: np.ndarray,
        sizes: np.ndarray,
        hashes: list[str],
    ) -> np.ndarray:
        """Append the new rows of this batch; which items' rows were written."""
        written = np.zeros(len(templates), bool)
        if self._writer is None:
            return written
        records, rows = [], []
        for i in good:
            for fields in json.loads(str(templates[i]) or "[]"):
                template = ImageRecord(**fields)
                digest = template.content_hash if template.content_hash != DEFERRED_HASH else hashes[i]
                width, height = (int(v) for v in sizes[i])
                records.append(replace(template, width=width, height=height, content_hash=digest))
                rows.append(i)
                written[i] = True
        self._writer.append(records, vectors[rows])
        return written


def cluster_info(actors: int) -> dict[str, int]:
    """What the run had: alive nodes, model actors, GPUs (for the report's "ray" block)."""
    import ray

    if not ray.is_initialized():
        ray.init()  # RAY_ADDRESS, or a local cluster when unset: Ray's own convention
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    return {"nodes": len(nodes), "actors": actors, "gpus": int(ray.cluster_resources().get("GPU", 0))}


def gpus_per_actor(cluster_gpus: float, actors: int) -> float:
    """Each actor's share of the cluster's GPUs: one each when there are enough, else an even fraction
    (actors then share a GPU); 0 on a CPU-only cluster."""
    if cluster_gpus <= 0 or actors <= 0:
        return 0.0
    return min(1.0, cluster_gpus / actors)


def ray_stage(
    factory: EmbedderFactory,
    *,
    actors: int = 1,
    writer: RowWriter | None = None,
    gpu_factory: EmbedderFactory | None = None,
) -> EmbedStage:
    """An embed stage that runs `actors` model replicas under Ray Data's map_batches, order preserved.

    With `writer` (an object-store catalog), the actors append new rows themselves, so the driver only
    commits updates, renames and the sweep; its own commits stop being the ceiling. On a cluster with GPUs
    each actor asks for its share of one (`gpus_per_actor`) and builds its model with `gpu_factory`.
    """
    try:
        import ray
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise PixseekError('distributed indexing needs Ray: pip install "pixseek[ray]"') from exc

    def stage(
        paths: Sequence[Path | ObjectFile], opts: RunOptions, writes: Writes | None = None
    ) -> Iterator[Embedded]:
        if not paths:
            return
        ctx = ray.data.DataContext.get_current()
        ctx.execution_options.preserve_order = True  # results must line up with `paths`
        objects = [p for p in paths if isinstance(p, ObjectFile)]
        options = dict(objects[0].source.storage_options) if objects else {}
        to_write = writes if writer is not None and writes is not None else [[] for _ in paths]
        rows = [
            {
                "uri": p.source.uri if isinstance(p, ObjectFile) else "",
                "path": p.path if isinstance(p, ObjectFile) else str(p),
                "write": json.dumps([asdict(r) for r in records]) if records else "",
            }
            for p, records in zip(paths, to_write, strict=True)
        ]
        if not ray.is_initialized():
            ray.init()  # RAY_ADDRESS, or a local cluster when unset: Ray's own convention
        num_gpus = gpus_per_actor(ray.cluster_resources().get("GPU", 0), actors)
        model = gpu_factory if num_gpus and gpu_factory is not None else factory
        # Several model batches per call, so decoding overlaps the model inside it; a writing actor appends
        # once per call, so its calls take a commit's worth of rows.
        per_call = max(4 * opts.batch_size, opts.commit_rows if writer is not None else 0)
        # Fractional CPUs for the read tasks: with whole-CPU reads, actors on 1-CPU nodes can deadlock.
        ds = ray.data.from_items(rows, override_num_blocks=max(1, min(len(rows) // per_call, 64)))
        ds = ds.map_batches(
            _EmbedBatch,
            fn_constructor_args=(model, options, writer, opts.batch_size),
            batch_size=per_call,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=actors),
            num_cpus=0.5,
            num_gpus=num_gpus,
        )
        position = 0
        for batch in ds.iter_batches(batch_size=opts.batch_size, batch_format="numpy"):
            for vector, (width, height), error, digest, written in zip(
                batch["vector"], batch["size"], batch["error"], batch["hash"], batch["written"], strict=True
            ):
                path = paths[position]
                position += 1
                if error:
                    yield ImageReadError(path, str(error)), None
                    continue
                loaded = LoadedImage(_NO_PIXELS, int(width), int(height), str(digest) or None)
                yield loaded, (None if written else np.asarray(vector, np.float32))

    return stage
