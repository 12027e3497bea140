"""Approximate search with FAISS IVF-Flat on inner product, saved beside the catalog it was built from.

IVF-Flat was chosen over HNSW by measurement (benchmarks/search_bench.py): on 2 cores it builds a
1M x 512 index in seconds rather than many minutes, needs no memory beyond the vectors, and reaches
recall@10 >= 0.95 on clustered (embedding-like) data within a few milliseconds per query.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
from collections.abc import Callable
from pathlib import Path

import faiss
import numpy as np

from pixseek.locations import Location, is_object_store, object_store_fs
from pixseek.search.delta import (
    KEYS_SUFFIX,
    DeltaIndex,
    ivf_params,
    keys_path,
    load_delta,
    load_keys,
    newest_saved,
    save_keys,
)
from pixseek.search.saved_digest import SUFFIX as DIGEST_SUFFIX
from pixseek.search.saved_digest import (
    as_text,
    crc_of_bytes,
    crc_of_file,
    digest_path,
    intact,
    matches,
    write_digest,
)
from pixseek.search.temporary_files import remove_dead_temporaries, temporary_path

DEFAULT_NPROBE = 32  # recall@10 0.97 at 2.7 ms on 1M clustered 512-d vectors (2 cores)
FILE_PREFIX = "ann-v"
log = logging.getLogger(__name__)
_TRAIN_PER_LIST = 32  # k-means points per centroid: enough for stable lists, cheap to train
_KMEANS_ITERATIONS = 10  # FAISS's default 25 triples training time for no recall gain here


def default_nlist(n: int) -> int:
    """About 2 * sqrt(N) inverted lists: 2,000 at 1M keeps the build near a minute on 2 cores."""
    return max(1, min(n // _TRAIN_PER_LIST, int(2 * math.sqrt(n))))


class IvfIndex:
    """Inverted-file index over L2-normalised float32 rows; `nprobe` trades recall for speed."""

    def __init__(self, index: faiss.IndexIVFFlat, *, nprobe: int = DEFAULT_NPROBE) -> None:
        self._index = index
        self.nprobe = nprobe

    @classmethod
    def build(
        cls, vectors: np.ndarray, *, nlist: int | None = None, nprobe: int = DEFAULT_NPROBE, seed: int = 0
    ) -> IvfIndex:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        n, dim = vectors.shape
        nlist = nlist or default_nlist(n)
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
        index.cp.niter = _KMEANS_ITERATIONS
        index.cp.seed = seed
        train_n = min(n, max(nlist * _TRAIN_PER_LIST, 1))
        # we sample deliberately fewer than FAISS's 39 a list, and a catalog under 32 rows has fewer still:
        # no warning of FAISS's own on stderr for either
        index.cp.min_points_per_centroid = max(1, min(_TRAIN_PER_LIST, train_n // nlist))
        sample = vectors[np.random.default_rng(seed).choice(n, size=train_n, replace=False)]
        index.train(sample)
        index.add(vectors)
        return cls(index, nprobe=nprobe)

    @classmethod
    def load(cls, path: Path, *, nprobe: int = DEFAULT_NPROBE) -> IvfIndex:
        return cls(faiss.read_index(str(path)), nprobe=nprobe)

    def to_bytes(self) -> bytes:
        return faiss.serialize_index(self._index).tobytes()

    @classmethod
    def from_bytes(cls, data: bytes, *, nprobe: int = DEFAULT_NPROBE) -> IvfIndex:
        return cls(faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8)), nprobe=nprobe)

    def save(self, path: Path) -> None:
        """Write atomically (temp file + rename) so a concurrent reader never sees half an index, with its
        digest (saved_digest) written first."""
        tmp = temporary_path(path)
        try:
            faiss.write_index(self._index, str(tmp))
            write_digest(path, crc_of_file(tmp))
        except (RuntimeError, OSError) as exc:  # FAISS reports an unwritable path (read-only, full disk)
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise OSError(f"cannot write {path}: {exc}") from exc
        tmp.replace(path)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    @property
    def nlist(self) -> int:
        return int(self._index.nlist)

    def search(
        self,
        queries: np.ndarray,
        k: int,
        *,
        rows: np.ndarray | None = None,
        dropped: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k over all rows, only `rows`, or all but `dropped` (rows deleted since the index was built)."""
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        params, _keep = ivf_params(self.nprobe, self.nlist, len(self), rows, dropped)
        scores, idx = self._index.search(queries, k, params=params)
        scores = np.where(idx >= 0, scores, -np.inf).astype(np.float32)
        return scores, idx.astype(np.int64)


def load_or_build(
    vectors: np.ndarray,
    where: Location,
    version: int,
    *,
    nprobe: int = DEFAULT_NPROBE,
    keys: Callable[[], np.ndarray] | None = None,
    delta_limit: int = 0,
    delta_slack: float = 1,
) -> IvfIndex | DeltaIndex:
    """The index for one catalog version, stored as ann-v<version>.faiss beside the catalog: in its folder,
    or under its object-store prefix, so every replica loads the one built rather than building its own.

    Given `keys` (the version's row keys, see search.delta), a local catalog keeps serving through the
    newest older index while the rows changed since are within `delta_limit` (times `delta_slack`; searched
    exactly); past that, or with no older index, it is built afresh, and files of other versions are deleted.
    """
    name = f"{FILE_PREFIX}{version}.faiss"
    if is_object_store(where):
        return _load_or_build_remote(vectors, str(where), name, nprobe)
    folder = Path(where)
    path = folder / name
    ann = _readable(path, lambda: _load_intact(path, nprobe)) if path.is_file() else None
    if ann is not None and len(ann) == len(vectors):
        return ann
    if keys is not None:
        current_keys = functools.cache(keys)
        delta = _older_with_delta(
            vectors, folder, version, nprobe=nprobe, keys=current_keys, limit=delta_limit, slack=delta_slack
        )
        if delta is not None:
            return delta
    ann = IvfIndex.build(vectors, nprobe=nprobe)
    try:
        if keys is not None:
            save_keys(current_keys(), keys_path(path))  # before the index: an index file means both are whole
        ann.save(path)
        remove_dead_temporaries(folder)
        saved = [f"{FILE_PREFIX}*.faiss", f"{FILE_PREFIX}*{KEYS_SUFFIX}", f"{FILE_PREFIX}*{DIGEST_SUFFIX}"]
        for stale in [p for pattern in saved for p in folder.glob(pattern)]:
            if stale not in (path, keys_path(path), digest_path(path)):
                stale.unlink(missing_ok=True)
    except OSError as exc:  # a read-only catalog (a replica's mount): search from memory all the same
        log.warning("cannot save the ANN index beside the catalog (%s); it is kept in memory only", exc)
    return ann


def _older_with_delta(
    vectors: np.ndarray,
    folder: Path,
    version: int,
    *,
    nprobe: int,
    keys: Callable[[], np.ndarray],
    limit: int,
    slack: float,
) -> DeltaIndex | None:
    base_version = newest_saved(folder, FILE_PREFIX, version - 1)
    if base_version is None:
        return None
    base_path = folder / f"{FILE_PREFIX}{base_version}.faiss"
    base_keys = load_keys(keys_path(base_path))
    try:
        base = _load_intact(base_path, nprobe)
    except (RuntimeError, OSError):  # removed, replaced by a rebuild since it was listed, or damaged
        return None
    if base_keys is None or len(base_keys) != len(base):
        return None
    return load_delta(
        base, base_keys, keys, lambda rows: vectors[rows], base_version=base_version, limit=limit, slack=slack
    )


def _load_or_build_remote(vectors: np.ndarray, uri: str, name: str, nprobe: int) -> IvfIndex:
    """The same under an object-store prefix: one object per version, written whole (a put is atomic)."""
    from pyarrow import fs as pafs

    filesystem, base = object_store_fs(uri)
    key, digest_key = f"{base}/{name}", f"{base}/{name}{DIGEST_SUFFIX}"
    ann = None
    if filesystem.get_file_info(key).type == pafs.FileType.File:
        with filesystem.open_input_stream(key) as stream:
            data = stream.read()
        expected = None
        if filesystem.get_file_info(digest_key).type == pafs.FileType.File:
            with filesystem.open_input_stream(digest_key) as stream:
                expected = stream.read().decode(errors="replace")

        def load() -> IvfIndex:
            if expected is not None and not matches(expected, crc_of_bytes(data)):
                raise RuntimeError(_MISMATCH)
            return IvfIndex.from_bytes(data, nprobe=nprobe)

        ann = _readable(f"{uri}/{name}", load)
    if ann is None or len(ann) != len(vectors):
        ann = IvfIndex.build(vectors, nprobe=nprobe)
        try:
            data = ann.to_bytes()
            with filesystem.open_output_stream(digest_key) as out:  # first: a whole index has its digest
                out.write(as_text(crc_of_bytes(data)).encode())
            with filesystem.open_output_stream(key) as out:
                out.write(data)
            for info in filesystem.get_file_info(pafs.FileSelector(base)):
                if info.base_name.startswith(FILE_PREFIX) and info.path not in (key, digest_key):
                    filesystem.delete_file(info.path)
        except OSError as exc:  # a read-only key: search from memory all the same
            log.warning("cannot save the ANN index beside the catalog (%s); it is kept in memory only", exc)
    return ann


_MISMATCH = "its bytes do not match the digest saved with it"


def _load_intact(path: Path, nprobe: int) -> IvfIndex:
    if not intact(path):
        raise RuntimeError(_MISMATCH)
    return IvfIndex.load(path, nprobe=nprobe)


def _readable(where: str | Path, load: Callable[[], IvfIndex]) -> IvfIndex | None:
    """The saved index, or None when FAISS cannot read it (a truncated, damaged or foreign file) or its
    digest does not match: it is a cache, so it is built again (and saved over) with a warning, where it
    had failed every search, or answered from damaged bytes."""
    try:
        return load()
    except RuntimeError as exc:
        reason = str(exc).rsplit("Error: ", 1)[-1][:200]  # FAISS prefixes its C++ source location
        log.warning("cannot read the saved ANN index %s (%s); building it again", where, reason)
        return None


def saved_for(where: Location, version: int) -> bool:
    """Whether an ANN index (IVF-Flat, or the compressed one) is saved for exactly this catalog version."""
    from pixseek.search.compressed import file_names
    from pixseek.search.compressed_remote import saved_remote

    if is_object_store(where):
        from pyarrow import fs as pafs

        filesystem, base = object_store_fs(str(where))
        ivf = filesystem.get_file_info(f"{base}/{FILE_PREFIX}{version}.faiss").type == pafs.FileType.File
        return ivf or saved_remote(str(where), version)
    folder = Path(where)
    return (folder / f"{FILE_PREFIX}{version}.faiss").is_file() or all(
        (folder / name).is_file() for name in file_names(version)
    )


def remove_saved(where: Location) -> None:
    """Delete every saved ANN file beside a catalog (IVF-Flat, and the compressed index's files), so the
    next use builds afresh (`pixseek index --rebuild-ann`)."""
    from pixseek.search.compressed import PQ_PREFIX, VECTORS_PREFIX

    if is_object_store(where):
        from pyarrow import fs as pafs

        filesystem, base = object_store_fs(str(where))
        for info in filesystem.get_file_info(pafs.FileSelector(base)):
            if info.base_name.startswith((FILE_PREFIX, PQ_PREFIX, VECTORS_PREFIX)):
                filesystem.delete_file(info.path)
        return
    for prefix in (FILE_PREFIX, PQ_PREFIX, VECTORS_PREFIX):
        for saved in Path(where).glob(f"{prefix}*"):
            saved.unlink(missing_ok=True)
