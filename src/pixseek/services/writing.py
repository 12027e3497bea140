"""The write side of `pixseek.Index`: one writer per catalog, the Ray stage, decode workers by default."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

from pixseek.catalog import Catalog, IndexMeta, write_lock
from pixseek.catalog.lease import Lease, write_lease
from pixseek.catalog.row_writer import RowWriter
from pixseek.errors import ModelMismatchError, NotInIndexError, QueryError, StorageError
from pixseek.indexing import IndexReport, RunOptions
from pixseek.indexing.pipeline import EmbedStage
from pixseek.locations import Location
from pixseek.settings import Settings
from pixseek.types import Embedder


@contextmanager
def write_lock_for(db: Location, timeout: float) -> Iterator[Lease | None]:
    """One writer per catalog: a file lock in a local folder, or a Lance lease in an object store
    (yielded: renewed before each commit, and it fences the Ray workers' own appends). `timeout` seconds
    to wait for another writer: 0 not at all, inf for as long as it takes."""
    if math.isnan(timeout) or timeout < 0:  # nan passed `--wait`'s minimum and then waited forever
        raise QueryError(f"the time to wait for the write lock must be 0 or more seconds, got {timeout!r}")
    if isinstance(db, str):
        with write_lease(db, timeout=timeout) as lease:
            yield lease
        return
    try:
        Path(db).mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a read-only parent, a path under /proc, a full disk
        raise StorageError(f"cannot create the index folder {db}: {exc.strerror or exc}") from None
    with write_lock(Path(db), timeout=timeout):
        yield None


@contextmanager
def fenced(catalog: Catalog, lease: Lease | None) -> Iterator[Catalog]:
    """`catalog` with every write renewing `lease` first, so a writer whose lease was taken over stops
    before it writes (a local catalog's file lock needs no fence)."""
    catalog.before_write = lease.renew if lease is not None else None
    try:
        yield catalog
    finally:
        catalog.before_write = None


def check_model(db: Location, embedder: Embedder, meta: IndexMeta) -> None:
    """The model must be the one the index at `db` was built with (fingerprint and dim)."""
    if embedder.fingerprint != meta.fingerprint or embedder.dim != meta.dim:
        raise ModelMismatchError(
            f"the index at {db} was built with model {meta.model!r} (fingerprint "
            f"{meta.fingerprint}, dim {meta.dim}), not {embedder.name!r} (fingerprint "
            f"{embedder.fingerprint}, dim {embedder.dim}); use --model {meta.model_ref} (Python: model=) "
            "or another --db"
        )


def model_ref_for(asked: str | None, embedder: Embedder) -> str:
    """What load_embedder needs to get this model back: the name or folder asked for, else the injected
    embedder's folder (OnnxEmbedder has one), else its name."""
    folder = getattr(embedder, "folder", None)
    ref = asked or (str(folder) if folder is not None else embedder.name)
    return str(Path(ref).resolve()) if Path(ref).is_dir() else ref


def open_for_writing(db: Location, embedder: Embedder, asked: str | None) -> Catalog:
    """Under the write lock: the catalog at `db` (an older schema migrated), checked against the model,
    or a new one for it, which records how to load the model again (`asked`: the name or folder given)."""
    if Catalog.exists(db):
        catalog = Catalog.open(db, allow_migration=True)
        check_model(db, embedder, catalog.meta)
        return catalog
    meta = IndexMeta(embedder.name, model_ref_for(asked, embedder), embedder.fingerprint, embedder.dim)
    return Catalog.create(db, meta)


def add_ray_info(report: IndexReport, actors: int) -> None:
    """The cluster a Ray run used, and what its stage and workers did, for the run's report."""
    from pixseek.indexing.ray_runner import cluster_info

    report.ray = cluster_info(actors) | {
        "stage_seconds": report.stage_seconds,
        "rows_written_by_workers": report.worker_rows,
    }


GPU_PROVIDERS = ("CUDAExecutionProvider", "CPUExecutionProvider")


def ray_stage_for(
    db: Location,
    lease: Lease | None,
    actors: int,
    embedder: Embedder,
    *,
    model_ref: str | None,
    settings: Settings,
) -> EmbedStage:
    """Ray workers rebuild the model from `model_ref` (ONNX Runtime's CUDA provider on GPU actors, which
    needs onnxruntime-gpu there), or get `embedder` pickled when it was injected (model_ref None). Into
    an object-store catalog they append new rows themselves, under this run's lease."""
    from pixseek.indexing.ray_runner import Provide, ray_stage
    from pixseek.models.registry import load_embedder

    writer = RowWriter(str(db), lease.owner, embedder.dim) if lease is not None else None
    if model_ref is None:
        return ray_stage(Provide(embedder), actors=actors, writer=writer)
    on_gpu = settings.model_copy(update={"providers": GPU_PROVIDERS})
    return ray_stage(
        partial(load_embedder, model_ref, settings=settings),
        actors=actors,
        writer=writer,
        gpu_factory=partial(load_embedder, model_ref, settings=on_gpu),
    )


def run_options(
    settings: Settings,
    *,
    workers: int | None,
    batch_size: int | None,
    include_hidden: bool | None,
    commit_rows: int | None,
) -> RunOptions:
    """An indexing run's options: each one given, else the setting (decode workers: default_workers)."""
    return RunOptions(
        batch_size=batch_size or settings.batch_size,
        workers=default_workers(workers if workers is not None else settings.workers),
        include_hidden=settings.include_hidden if include_hidden is None else include_hidden,
        **({"commit_rows": commit_rows} if commit_rows else {}),
    )


def default_workers(workers: int | None) -> int:
    """Decode processes when not configured: cores // 4, so 0 (decode threads in-process) on small machines.

    On 2 cores in-process decoding gives 93% of model-only throughput and 2 processes 77%: the model
    already uses every core, and process start-up and pickling cost more than they overlap.
    """
    if workers is not None:
        return workers
    return (os.cpu_count() or 1) // 4


def forget_root(catalog: Catalog, key: str) -> int:
    """Delete every row indexed from `key` (see locations.root_key) and compact; how many there were.
    Under the write lock. A `key` the index does not hold is a NotInIndexError naming those it does."""
    ids = [r.id for r in catalog.records(root=key)]
    if not ids:
        indexed = catalog.roots()
        shown = ", ".join(indexed[:5]) + (f" and {len(indexed) - 5} more" if len(indexed) > 5 else "")
        raise NotInIndexError(f"{key} is not an indexed folder of this index; it holds {shown or 'none'}")
    catalog.delete(ids)
    catalog.compact()
    return len(ids)


def overlapping_roots(key: str, roots: list[str]) -> list[str]:
    """Indexed roots that hold `key` or lie inside it: indexing `key` too would index their shared images
    twice, under two roots (search results and duplicate groups would show both rows)."""
    inside = key.rstrip("/") + "/"
    return [r for r in roots if r != key and (key.startswith(r.rstrip("/") + "/") or r.startswith(inside))]
