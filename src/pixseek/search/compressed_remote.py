"""The compressed index of an object-store catalog: saved under the catalog's prefix, versioned with it, and
copied by each replica to a local folder, where the refine reads its rows with pread.

Why a local copy: a query re-scores a few hundred to a few thousand scattered rows, and one ranged GET per
row would cost a round trip each (tens of milliseconds on real object storage). The copy lives on disk, not
in RAM (10M x 512-d is 10 GB of float16), and the page cache keeps what it can. The writer builds the
index once and uploads it; every replica downloads that one instead of building its own. Objects are
written keys first and the vector file last, so a vector file under the prefix means a whole index.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from pixseek.errors import StorageError
from pixseek.locations import object_store_fs
from pixseek.search.compressed import (
    PQ_PREFIX,
    VECTORS_PREFIX,
    CompressedIndex,
    file_names,
    remove_other_versions,
)
from pixseek.search.compressed_saved import load_or_build
from pixseek.search.delta import DeltaIndex, keys_path, newest_saved
from pixseek.search.saved_digest import digest_path
from pixseek.search.temporary_files import temporary_path

log = logging.getLogger(__name__)
_COPY_CHUNK = 8 * 1024 * 1024


def local_copy_folder(cache_root: Path, uri: str) -> Path:
    """The folder under `cache_root` that holds one catalog's copy (one folder per catalog URI)."""
    digest = hashlib.blake2b(uri.rstrip("/").encode(), digest_size=8).hexdigest()
    return cache_root / digest


def load_or_build_remote(
    uri: str,
    version: int,
    n: int,
    dim: int,
    batches: Callable[[], Iterable[np.ndarray]],
    *,
    cache: Path,
    keys: Callable[[], np.ndarray] | None = None,
    delta_vectors: Callable[[np.ndarray], np.ndarray] | None = None,
    delta_limit: int = 0,
    delta_slack: float = 1,
) -> CompressedIndex | DeltaIndex:
    """The compressed index of one version of the catalog at `uri`: the local copy in `cache`, else the
    one saved under the prefix (downloaded), else an older saved one plus an exact delta (as for a local
    catalog, see search.delta), else built here and uploaded for the other replicas."""
    filesystem, base = object_store_fs(uri)
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(
            f"cannot keep a copy of the compressed index in {cache}: {exc.strerror or exc}; "
            "set PIXSEEK_ANN_CACHE to a writable folder with room for the vector file"
        ) from exc
    found = CompressedIndex.load(cache, version)
    if found is not None and len(found) == n:
        return found
    repair = False
    if _download(filesystem, base, version, cache, dim):
        found = CompressedIndex.load(cache, version)
        if found is not None and len(found) == n:
            remove_other_versions(cache, version)  # an open older copy stays readable until closed
            return found
        # The prefix's copy of this version is damaged (its codes fail their digest): build it here and
        # upload over it. An older copy plus a delta would serve, but leave the damage for every replica
        # (and this one's next start) to download again.
        repair = True
    else:
        older = _newest_remote(filesystem, base, version - 1)
        if older is not None and older != newest_saved(cache, PQ_PREFIX, version - 1):
            _download(filesystem, base, older, cache, dim)
    index = load_or_build(
        cache,
        version,
        n,
        dim,
        batches,
        keys=keys,
        delta_vectors=None if repair else delta_vectors,
        delta_limit=delta_limit,
        delta_slack=delta_slack,
    )
    if isinstance(index, CompressedIndex) and (cache / file_names(version)[1]).is_file():
        _upload(filesystem, base, version, cache)  # built here (not in a private folder, nor a delta)
    return index


def saved_remote(uri: str, version: int) -> bool:
    """Whether the prefix holds a whole compressed index of exactly this catalog version."""
    from pyarrow import fs as pafs

    filesystem, base = object_store_fs(uri)
    return filesystem.get_file_info(f"{base}/{file_names(version)[1]}").type == pafs.FileType.File


def _listing(filesystem: Any, base: str) -> list[Any]:
    from pyarrow import fs as pafs

    return filesystem.get_file_info(pafs.FileSelector(base, allow_not_found=True))  # type: ignore[no-any-return]


def _newest_remote(filesystem: Any, base: str, at_most: int) -> int | None:
    """The newest version <= at_most whose vector file (written last) is under the prefix."""
    pattern = re.compile(rf"{re.escape(VECTORS_PREFIX)}(\d+)\.lists\.f16")
    found = [
        int(m.group(1))
        for info in _listing(filesystem, base)
        if (m := pattern.fullmatch(info.base_name)) and int(m.group(1)) <= at_most
    ]
    return max(found, default=None)


def _names(version: int, cache: Path) -> list[str]:
    """A version's objects in the order they are written: keys, the codes' digest, the codes, then the
    vector file. The first two may be missing (an index saved by an earlier pixseek)."""
    codes, vectors = file_names(version)
    return [keys_path(cache / codes).name, digest_path(cache / codes).name, codes, vectors]


def _download(filesystem: Any, base: str, version: int, cache: Path, dim: int) -> bool:
    """Copy one version's objects into `cache`, the vector file renamed into place last. False when the
    prefix holds no whole index of that version (or a rebuild removed it meanwhile)."""
    from pyarrow import fs as pafs

    names = _names(version, cache)
    infos = filesystem.get_file_info([f"{base}/{name}" for name in names])
    if any(info.type != pafs.FileType.File for info in infos[2:]):
        return False
    if infos[3].size % (2 * dim):
        log.warning("ignoring %s: its size is not a whole number of rows", infos[3].path)
        return False
    copied = []
    try:
        for name, info in zip(names, infos, strict=True):
            if info.type != pafs.FileType.File:
                continue  # without keys it serves but carries no delta; without a digest, unchecked
            tmp = temporary_path(cache / name)
            with filesystem.open_input_stream(info.path) as source, tmp.open("wb") as out:
                while chunk := source.read(_COPY_CHUNK):
                    out.write(chunk)
            copied.append((tmp, cache / name))
    except FileNotFoundError:
        _discard(copied)
        return False  # replaced by a newer build while being read
    except OSError as exc:
        _discard(copied)
        raise OSError(f"cannot copy the compressed index of version {version} into {cache}: {exc}") from exc
    for tmp, final in copied:
        tmp.replace(final)
    return True


def _discard(copied: list[tuple[Path, Path]]) -> None:
    for tmp, _ in copied:
        tmp.unlink(missing_ok=True)


def _upload(filesystem: Any, base: str, version: int, cache: Path) -> None:
    """Put one version's files under the prefix (the vector file last), then delete other versions'."""
    names = _names(version, cache)
    try:
        for name in names:
            local = cache / name
            if not local.is_file():
                continue
            with local.open("rb") as source, filesystem.open_output_stream(f"{base}/{name}") as out:
                while chunk := source.read(_COPY_CHUNK):
                    out.write(chunk)
        for info in _listing(filesystem, base):
            if info.base_name.startswith((PQ_PREFIX, VECTORS_PREFIX)) and info.base_name not in names:
                filesystem.delete_file(info.path)
    except OSError as exc:  # read-only credentials (a replica's): this replica serves its own copy
        log.warning("cannot save the compressed index under %s (%s); it is kept in %s only", base, exc, cache)
