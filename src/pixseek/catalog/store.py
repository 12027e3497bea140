"""The Catalog: open, read, write and compact one index's LanceDB tables (only the catalog package
imports lancedb)."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

# Lance logs routine events ("No existing dataset ... will be created") as warnings on stderr;
# keep only errors unless the user asked for more. Must be set before lancedb loads its Rust core.
os.environ.setdefault("LANCEDB_LOG", "error")

import lancedb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pixseek.catalog.access import READ_ATTEMPTS, read_meta, reads, retried, writes
from pixseek.catalog.adapter_table import ADAPTER_TABLE, AdapterRecord
from pixseek.catalog.db_path import catalog_exists, check_db_path
from pixseek.catalog.schema import (
    IMAGES_TABLE,
    META_STAGING,
    META_TABLE,
    RECORD_COLUMNS,
    CatalogSnapshot,
    ImageRecord,
    IndexMeta,
    check_migratable,
    image_schema,
    migrate,
    needs_migration,
)
from pixseek.catalog.storage import os_errno, read_errors, remote_bytes, short_cause, storage_errors
from pixseek.errors import CatalogError, SchemaVersionError, StorageError
from pixseek.locations import Location, as_location

_IN_CHUNK = 500  # ids per `IN (...)` filter


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _vectors(column: pa.ChunkedArray | pa.Array, dim: int) -> np.ndarray:
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    flat = column.flatten().to_numpy(zero_copy_only=False)
    matrix = flat.astype(np.float32).reshape(-1, dim)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.maximum(norms, 1e-12)  # renormalise after float16 rounding


class Catalog:
    """One index: an images table and a one-row metadata table inside a LanceDB folder."""

    def __init__(self, path: Location, conn: lancedb.DBConnection, meta: IndexMeta) -> None:
        self.path = path
        self.before_write: Callable[[], None] | None = None  # set by the writer holding the lock
        self._conn = conn
        self._meta = meta
        self._images = conn.open_table(IMAGES_TABLE)

    # -- lifecycle -------------------------------------------------------------------------------
    exists = staticmethod(catalog_exists)

    @classmethod
    def open(cls, path: Location, *, allow_migration: bool = False) -> Catalog:
        """Open an existing catalog; migrate an older schema only when the caller holds the write lock."""
        path = as_location(path)
        check_db_path(path)
        if not cls.exists(path):
            raise CatalogError(
                f"no pixseek index at {path}; create one with `pixseek index FOLDER --db {path}`"
            )
        with read_errors(path):  # a damaged or missing table file: one line naming the catalog
            conn = _connect(path)
            meta = read_meta(conn)
        if needs_migration(meta):
            if not allow_migration:
                check_migratable(meta)  # newer than us, or no way up: say so, not 'upgrade'
                raise SchemaVersionError(
                    f"index at {path} has schema version {meta.schema_version}; "
                    "run `pixseek index` on it once to upgrade it"
                )
            table, meta = migrate(conn.open_table(IMAGES_TABLE).to_arrow(), meta)
            conn.create_table(IMAGES_TABLE, table, mode="overwrite")
            conn.open_table(META_TABLE).add(meta.to_table(), mode="overwrite")
        with read_errors(path):
            return cls(path, conn, meta)

    @classmethod
    def create(cls, path: Location, meta: IndexMeta) -> Catalog:
        path = as_location(path)
        check_db_path(path)
        with storage_errors(path):
            if isinstance(path, str):  # object store: the metadata table's first manifest marks it complete
                conn = _connect(path)
                conn.create_table(IMAGES_TABLE, schema=image_schema(meta.dim), mode="overwrite")
                conn.create_table(META_TABLE, meta.to_table(), mode="overwrite")
                return cls(path, conn, meta)
            path.mkdir(parents=True, exist_ok=True)
            conn = _connect(path)
            conn.create_table(IMAGES_TABLE, schema=image_schema(meta.dim), mode="overwrite")
            # The metadata table marks the catalog complete, so readers must never see it half-written:
            # build it under another name, then rename its folder into place (atomic on one filesystem).
            staging = path / f"{META_STAGING}.lance"
            shutil.rmtree(staging, ignore_errors=True)  # left by a run killed at this very step
            conn.create_table(META_STAGING, meta.to_table())
            staging.rename(path / f"{META_TABLE}.lance")
        return cls(path, _connect(path), meta)

    # -- metadata --------------------------------------------------------------------------------
    @property
    def meta(self) -> IndexMeta:
        return self._meta

    @writes
    def set_meta(self, meta: IndexMeta) -> None:
        self._conn.open_table(META_TABLE).add(meta.to_table(), mode="overwrite")
        self._meta = meta

    def checkout_latest(self) -> None:
        """Move the images table to its latest version (what a retried read starts from)."""
        self._images.checkout_latest()

    @reads
    def version(self) -> int:
        """The images table's latest version; a cheap check (one manifest read)."""
        self._images.checkout_latest()
        return int(self._images.version)

    @reads
    def count(self) -> int:
        self._images.checkout_latest()
        return int(self._images.count_rows())

    def bytes_on_disk(self) -> int:
        """Size of the folder; files that a concurrent compaction removes mid-walk count as gone."""
        if isinstance(self.path, str):
            return remote_bytes(self.path)
        total = 0
        for folder, _, files in os.walk(self.path):
            for name in files:
                with contextlib.suppress(FileNotFoundError):
                    total += (Path(folder) / name).stat().st_size
        return total

    # -- reads -----------------------------------------------------------------------------------
    @reads
    def records(self, *, root: str | None = None) -> list[ImageRecord]:
        """Rows without vectors, optionally only those under one indexed root."""
        self._images.checkout_latest()
        query = self._images.search().select(RECORD_COLUMNS).limit(None)
        if root is not None:
            query = query.where(f"root = {_quote(root)}")
        return [ImageRecord(**row) for row in query.to_arrow().select(RECORD_COLUMNS).to_pylist()]

    @reads
    def holds_root(self, root: str) -> bool:
        """Whether any row was indexed from `root` (an absolute folder or prefix)."""
        self._images.checkout_latest()
        query = self._images.search().where(f"root = {_quote(root)}").select(["id"]).limit(1)
        return query.to_arrow().num_rows > 0

    @reads
    def roots(self) -> list[str]:
        """The indexed folders and prefixes, sorted (one column read: about 30 bytes a row)."""
        self._images.checkout_latest()
        column = self._images.search().select(["root"]).limit(None).to_arrow().column("root")
        return sorted(r for r in pc.unique(column).to_pylist() if r is not None)

    @reads
    def record(self, row_id: str) -> ImageRecord | None:
        self._images.checkout_latest()
        query = self._images.search().where(f"id = {_quote(row_id)}").select(RECORD_COLUMNS).limit(1)
        rows = query.to_arrow().select(RECORD_COLUMNS).to_pylist()
        return ImageRecord(**rows[0]) if rows else None

    @reads
    def vectors_for(self, ids: list[str]) -> dict[str, np.ndarray]:
        """float32 vectors of the given rows (missing ids are simply absent)."""
        out: dict[str, np.ndarray] = {}
        for start in range(0, len(ids), _IN_CHUNK):
            chunk = ids[start : start + _IN_CHUNK]
            where = "id IN (" + ", ".join(_quote(i) for i in chunk) + ")"
            table = self._images.search().where(where).select(["id", "vector"]).limit(None).to_arrow()
            matrix = _vectors(table.column("vector"), self._meta.dim)
            out.update(zip(table.column("id").to_pylist(), matrix, strict=True))
        return out

    def snapshot(self, *, vectors: bool = True) -> CatalogSnapshot:
        """All rows of the latest version, read once from a handle pinned to it (so `vector_batches` of the
        same version yields the same row order); retried if a compaction removed files mid-read.
        Without `vectors`, a catalog larger than memory still fits: the matrix is left out."""
        columns = ["id", "root", "path", "label", *(["vector"] if vectors else [])]
        for attempt in range(READ_ATTEMPTS):
            try:
                pinned = self._pinned_images()
                version = pinned.version
                table = pinned.search().select(columns).limit(None).to_arrow()
                break
            except (OSError, RuntimeError, ValueError):
                if attempt == READ_ATTEMPTS - 1:
                    with read_errors(self.path):  # a store gone, or a damaged file: one line
                        raise
        return CatalogSnapshot(
            version=version,
            rows=table.select(["id", "root", "path", "label"]).combine_chunks(),
            vectors=_vectors(table.column("vector"), self._meta.dim) if vectors else None,
        )

    def _pinned_images(self) -> lancedb.table.Table:
        """A handle of its own on the latest version: pinning it leaves self._images alone."""
        return self._conn.open_table(IMAGES_TABLE)

    def vector_batches(self, version: int, *, rows_per_batch: int = 65_536) -> Iterator[np.ndarray]:
        """The L2-normalised vectors of one version, in the snapshot's row order, a batch at a time: a
        catalog larger than memory streams through in bounded pieces."""
        with read_errors(self.path):
            table = self._pinned_images()
            table.checkout(version)
            for batch in table.search().select(["vector"]).limit(None).to_batches(rows_per_batch):
                yield _vectors(batch.column("vector"), self._meta.dim)

    def column_batches(
        self, version: int, names: list[str], *, rows_per_batch: int = 65_536
    ) -> Iterator[tuple[pa.Array, ...]]:
        """Some metadata columns of one version in the snapshot's row order, a batch at a time."""
        with read_errors(self.path):
            table = self._pinned_images()
            table.checkout(version)
            for batch in table.search().select(names).limit(None).to_batches(rows_per_batch):
                yield tuple(batch.column(name) for name in names)

    def take_vectors(self, version: int, rows: np.ndarray) -> np.ndarray:
        """float32 vectors of the given row positions (in the snapshot's order) of one version."""
        if not len(rows):
            return np.empty((0, self._meta.dim), dtype=np.float32)
        with read_errors(self.path):
            table = self._pinned_images()
            table.checkout(version)
            picked = table.take_offsets([int(r) for r in rows]).select(["vector"]).to_arrow()
        return _vectors(picked.column("vector"), self._meta.dim)

    def columns(self, version: int, names: list[str]) -> list[pa.Array]:
        """Some metadata columns of one version, whole and read in one pass, in the snapshot's row order
        (e.g. content hashes, sizes and mtimes)."""
        with read_errors(self.path):
            table = self._pinned_images()
            table.checkout(version)
            read = table.search().select(names).limit(None).to_arrow()
        return [read.column(name).combine_chunks() for name in names]

    # -- the query adapter -----------------------------------------------------------------------
    def adapter(self) -> AdapterRecord | None:
        """The stored adapter, or None; one read of a small table. Storing one drops the replaced versions'
        files, perhaps the one this read began on: such a read is retried on the table as it is now."""
        try:
            with storage_errors(self.path):
                return retried(self._read_adapter)
        except (OSError, RuntimeError) as exc:  # a damaged table: say so, and how to get past it
            raise StorageError(
                f"cannot read the adapter stored in {self.path}: {short_cause(exc)}; `pixseek adapt --remove`"
                " drops it, `pixseek adapt` trains a new one, `--no-adapter` searches without it"
            ) from exc

    def _read_adapter(self) -> AdapterRecord | None:
        table = self._adapter_table()
        return AdapterRecord.from_table(table.to_arrow()) if table is not None else None

    def _adapter_table(self) -> lancedb.table.Table | None:
        try:
            return self._conn.open_table(ADAPTER_TABLE)
        except ValueError:  # "Table 'adapter' was not found": never adapted
            return None

    @writes
    def set_adapter(self, record: AdapterRecord | None) -> bool:
        """Store an adapter (replacing any), or drop it with None: one commit either way. True if one was
        stored before, whatever its model or method. A table Lance can no longer read (a damaged file, not
        a full or read-only disk) is dropped whole instead, so neither is stuck behind it."""
        try:
            table, had = self._replace_adapter(record)
        except (OSError, RuntimeError) as exc:
            if os_errno(exc) is not None or ADAPTER_TABLE not in self._conn.list_tables().tables:
                raise
            self._conn.drop_table(ADAPTER_TABLE)
            (table, _), had = self._replace_adapter(record), True
        if table is not None:
            with warnings.catch_warnings():  # the replaced adapters' files go: each held a whole matrix
                warnings.simplefilter("ignore", UserWarning)  # "removes every version except the latest"
                table.optimize(cleanup_older_than=dt.timedelta(0))
        return had

    def _replace_adapter(self, record: AdapterRecord | None) -> tuple[lancedb.table.Table | None, bool]:
        table = self._adapter_table()
        had = table is not None and table.count_rows() > 0
        if record is not None:
            return self._conn.create_table(ADAPTER_TABLE, record.to_table(), mode="overwrite"), had
        if had:
            table.delete("true")
        return table, had

    # -- writes (callers hold the write lock) ----------------------------------------------------
    @writes
    def append(self, rows: pa.Table) -> None:
        """Insert rows with new ids: one atomic commit."""
        if rows.num_rows:
            self._images.add(rows)

    @writes
    def upsert(self, rows: pa.Table) -> None:
        """Replace rows by id (or insert them): one atomic commit."""
        if rows.num_rows:
            (
                self._images.merge_insert("id")
                .when_matched_update_all()
                .when_not_matched_insert_all()
                .execute(rows)
            )

    @writes
    def delete(self, ids: list[str]) -> None:
        for start in range(0, len(ids), _IN_CHUNK):
            chunk = ids[start : start + _IN_CHUNK]
            self._images.delete("id IN (" + ", ".join(_quote(i) for i in chunk) + ")")

    @writes
    def compact(self, *, images: bool = True) -> None:
        """Merge small fragments and drop old versions so many small runs do not slow reads down.

        The metadata table is rewritten by every run, so its history is dropped every time.
        """
        tables = [self._conn.open_table(META_TABLE)] + ([self._images] if images else [])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "removes every version except the latest"
            for table in tables:
                table.optimize(cleanup_older_than=dt.timedelta(0))


def _connect(path: Location) -> lancedb.DBConnection:
    """A connection to the catalog at `path`. A local folder goes as its absolute path: LanceDB expands a
    leading ~ itself, so a folder literally named ~x would be user x's home (or an error)."""
    return lancedb.connect(path if isinstance(path, str) else str(Path(path).absolute()))
