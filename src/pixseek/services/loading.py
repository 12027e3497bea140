"""Which in-memory form a catalog version gets: row metadata as Arrow arrays always, and the float32
matrix, or past the compressed threshold a compressed index over vectors left on disk."""

from __future__ import annotations

import ctypes
import functools
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa

from pixseek.catalog import Catalog
from pixseek.locations import Location, is_object_store
from pixseek.search import SearchMatrix
from pixseek.search.ann import IvfIndex, remove_saved
from pixseek.search.compressed import CompressedIndex
from pixseek.search.compressed_remote import load_or_build_remote, local_copy_folder
from pixseek.search.compressed_saved import load_or_build
from pixseek.search.delta import DeltaIndex, row_keys
from pixseek.search.page_cache import FileWarmup, start_warmup
from pixseek.search.rows import RowTable
from pixseek.services.results import Readiness
from pixseek.settings import Settings


def load_matrix(catalog: Catalog, db: Location, settings: Settings) -> SearchMatrix:
    """The latest version of `catalog` (at `db`), in the form its size calls for."""
    past_ram = catalog.count() >= settings.compressed_threshold
    snap = catalog.snapshot(vectors=not past_ram)
    dim = catalog.meta.dim
    version = snap.version
    keys = functools.partial(_row_keys, catalog, version)
    compressed = None
    if past_ram:  # vectors stay on disk: the compressed index is loaded (or built) on first use
        # a read-only catalog folder (a replica's mount) builds once into this machine's ANN cache instead
        local_copy = ann_copy_folder(Path(db).resolve(), settings) if not is_object_store(db) else None
        source: Callable[..., CompressedIndex | DeltaIndex] = functools.partial(
            load_or_build, Path(db), fallback=local_copy
        )
        if is_object_store(db):  # saved under the prefix; each replica reads rows from a local copy
            source = functools.partial(load_or_build_remote, str(db), cache=ann_copy_folder(db, settings))
        compressed = functools.partial(
            source,
            version,
            snap.rows.num_rows,
            dim,
            functools.partial(catalog.vector_batches, version),
            keys=keys,
            delta_vectors=functools.partial(catalog.take_vectors, version),
            delta_limit=settings.ann_delta_limit,
        )
    rows, vectors = RowTable.from_table(snap.rows), snap.vectors
    del snap
    release_freed_memory()
    return SearchMatrix(
        version=version,
        rows=rows,
        vectors=vectors,
        dim=dim,
        compressed=compressed,
        keys=keys,
        delta_limit=settings.ann_delta_limit,
    )


def page_cache_warmup(
    index: IvfIndex | CompressedIndex | DeltaIndex, current: FileWarmup | None
) -> FileWarmup | None:
    """The warm-up of `index`'s vector file (past RAM; an older index plus a delta reads its base's file):
    `current` when it already covers that file, else a new one (None when the file would not fit)."""
    base = index.base if isinstance(index, DeltaIndex) else index
    path = base.vector_path if isinstance(base, CompressedIndex) else None
    if path is None:
        return None
    if current is not None and current.path == path and current.error is None:
        return current
    return start_warmup(path)


def remove_saved_ann_files(db: Location, settings: Settings) -> None:
    """Delete the saved ANN index beside the catalog, and this machine's copy of an object store's."""
    remove_saved(db)
    if is_object_store(db):
        remove_saved(ann_copy_folder(db, settings))


def readiness_of(m: SearchMatrix, model: str, *, ann_used: bool, warmup: FileWarmup | None) -> Readiness:
    """What a load balancer needs to know of the matrix being served (see Index.readiness)."""
    ann = "ready" if m.ann_loaded else ("pending" if ann_used else "unused")
    ann_delta = m.ann_delta.match.changes if m.ann_delta is not None else 0
    cached = round(warmup.fraction, 3) if warmup is not None else None
    return Readiness(m.version, len(m), model, ann, ann_delta, cached)


def ann_copy_folder(db: Location, settings: Settings) -> Path:
    """Where this machine keeps its copy of an object-store catalog's compressed index."""
    root = settings.ann_cache
    if root is None:
        root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "pixseek" / "ann"
    return local_copy_folder(Path(root).expanduser(), str(db))


def _row_keys(catalog: Catalog, version: int) -> np.ndarray:
    return row_keys(catalog.column_batches(version, ["id", "content_hash"]))  # type: ignore[arg-type]


def release_freed_memory() -> None:
    """Hand the memory freed after a catalog read back to the OS. Reading 10M rows' metadata passes through
    buffers several times its final size; Arrow's pool and glibc's malloc keep those freed pages, which at
    2M rows was 300 MB of a 720 MB resident set (measured with /proc/self/status)."""
    pa.default_memory_pool().release_unused()
    process = ctypes.CDLL(None)  # the C library's symbols, already loaded
    if hasattr(process, "malloc_trim"):  # glibc only
        process.malloc_trim(0)
