"""Which compressed index serves a catalog version: its saved files beside the catalog, this machine's copy
for a read-only catalog, an older index plus the rows changed since (search.delta), or a fresh build.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from pixseek.search.compressed import PQ_PREFIX, CompressedIndex, file_names
from pixseek.search.delta import DeltaIndex, keys_path, load_delta, load_keys, newest_saved

log = logging.getLogger(__name__)


def load_or_build(
    folder: Path,
    version: int,
    n: int,
    dim: int,
    batches: Callable[[], Iterable[np.ndarray]],
    *,
    keys: Callable[[], np.ndarray] | None = None,
    delta_vectors: Callable[[np.ndarray], np.ndarray] | None = None,
    delta_limit: int = 0,
    delta_slack: float = 1,
    fallback: Path | None = None,
) -> CompressedIndex | DeltaIndex:
    """The compressed index of one catalog version, from its files beside the catalog or built there once
    from `batches` (the version's vectors, in row order). A read-only catalog (a replica's mount) gets
    one built once in `fallback` (this machine's ANN cache; a temporary folder only when that fails too),
    with a warning: run `pixseek index` where it is writable.

    Given `keys` and `delta_vectors` (the version's row keys, and the vectors of given rows), the newest
    older index keeps serving while the rows changed since are within `delta_limit` (times `delta_slack`;
    see search.delta).
    """
    found = CompressedIndex.load(folder, version)
    if found is not None and len(found) == n:
        return found
    if fallback is not None and fallback.is_dir():  # a read-only catalog: this machine's copy of it
        cached = CompressedIndex.load(fallback, version)
        if cached is not None and len(cached) == n:
            return cached
    current_keys = functools.cache(keys) if keys is not None else None
    if current_keys is not None and delta_vectors is not None:
        base_version = newest_saved(folder, PQ_PREFIX, version - 1)
        base = CompressedIndex.load(folder, base_version) if base_version is not None else None
        base_keys = load_keys(keys_path(folder / file_names(base_version)[0])) if base else None
        if base is not None and base_keys is not None and len(base_keys) == len(base):
            delta = load_delta(
                base,
                base_keys,
                current_keys,
                delta_vectors,
                base_version=base_version,
                limit=delta_limit,
                slack=delta_slack,
            )
            if delta is not None:
                return delta
    saved_keys = current_keys() if current_keys is not None else None
    try:
        return CompressedIndex.build(batches(), n, dim, folder, version, keys=saved_keys)
    except OSError as exc:
        private = _private_folder(fallback)
        log.warning("cannot save the compressed index beside the catalog (%s); building in %s", exc, private)
        return CompressedIndex.build(batches(), n, dim, private, version, keys=saved_keys)


def _private_folder(fallback: Path | None) -> Path:
    """Where to build for a catalog folder that refuses writes: `fallback`, kept so the next process (each
    CLI search is one) loads it instead of building again; a temporary folder only when that fails too."""
    if fallback is not None:
        with contextlib.suppress(OSError):
            fallback.mkdir(parents=True, exist_ok=True)
            return fallback
    return Path(tempfile.mkdtemp(prefix="pixseek-pq-"))
