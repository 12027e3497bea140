"""Which in-memory form a catalog version gets: row metadata as Arrow arrays always, and the float32
matrix, or past the compressed threshold a compressed index over vectors left on disk."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from pixseek.catalog import Catalog
from pixseek.locations import Location, is_object_store
from pixseek.search import SearchMatrix
from pixseek.search.compressed import load_or_build
from pixseek.search.delta import row_keys
from pixseek.search.rows import RowTable
from pixseek.settings import Settings


def load_matrix(catalog: Catalog, db: Location, settings: Settings) -> SearchMatrix:
    """The latest version of `catalog` (at `db`), in the form its size calls for."""
    past_ram = not is_object_store(db) and catalog.count() >= settings.compressed_threshold
    snap = catalog.snapshot(vectors=not past_ram)
    dim = catalog.meta.dim
    version = snap.version
    keys = None if is_object_store(db) else functools.partial(_row_keys, catalog, version)
    compressed = None
    if past_ram:  # vectors stay on disk: the compressed index is loaded (or built) on first use
        compressed = functools.partial(
            load_or_build,
            Path(db),
            version,
            snap.rows.num_rows,
            dim,
            functools.partial(catalog.vector_batches, version),
            keys=keys,
            delta_vectors=functools.partial(catalog.take_vectors, version),
            delta_limit=settings.ann_delta_limit,
        )
    rows = RowTable.from_table(snap.rows)
    return SearchMatrix(
        version=version,
        rows=rows,
        vectors=snap.vectors,
        dim=dim,
        compressed=compressed,
        keys=keys,
        delta_limit=settings.ann_delta_limit,
    )


def _row_keys(catalog: Catalog, version: int) -> np.ndarray:
    return row_keys(catalog.column_batches(version, ["id", "content_hash"]))  # type: ignore[arg-type]
