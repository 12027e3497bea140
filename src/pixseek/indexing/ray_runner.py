"""Distributed embedding with Ray Data (optional extra `[ray]`): the same run, with the model on a cluster.

Ray replaces the read + decode + embed stage: each actor fetches its files itself (from a shared folder,
or straight from the object store), so image bytes never pass through the driver. Into an object-store
catalog the actors also append the new rows themselves, fenced by the run's lease. Listing, diffing,
updates, renames and the sweep stay in the calling process, under the same lock or lease as a local run.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np

from pixseek.catalog.row_writer import RowWriter
from pixseek.errors import ImageReadError, PixseekError
from pixseek.indexing.pipeline import Embedded, EmbedStage, RunOptions, Writes
from pixseek.indexing.ray_actor import CALLS_PER_ACTOR, EmbedBatch, EmbedderFactory, Provide
from pixseek.indexing.ray_connect import connect
from pixseek.indexing.sources import ObjectFile
from pixseek.types import LoadedImage

__all__ = ["Provide", "cluster_info", "gpus_per_actor", "ray_stage"]
_NO_PIXELS = np.zeros((0,), np.float32)


def cluster_info(actors: int) -> dict[str, int]:
    """What the run had: alive nodes, model actors, GPUs (for the report's "ray" block)."""
    import ray

    connect()
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
        connect()
        num_gpus = gpus_per_actor(ray.cluster_resources().get("GPU", 0), actors)
        model = gpu_factory if num_gpus and gpu_factory is not None else factory
        # Several model batches per call, so decoding overlaps the model inside it; a writing actor appends
        # once per call, so its calls take a commit's worth of rows.
        per_call = max(4 * opts.batch_size, opts.commit_rows if writer is not None else 0)
        # Fractional CPUs for the read tasks: with whole-CPU reads, actors on 1-CPU nodes can deadlock.
        # About a call's worth of rows per block, and enough blocks to keep every actor's calls busy.
        blocks = max(1, min(-(-len(rows) // per_call), max(64, 8 * actors)))
        ds = ray.data.from_items(rows, override_num_blocks=blocks)
        ds = ds.map_batches(
            EmbedBatch,
            fn_constructor_args=(model, options, writer, opts.batch_size),
            batch_size=per_call,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(
                size=actors, max_concurrent_calls_per_actor=CALLS_PER_ACTOR, enable_true_multi_threading=True
            ),
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
