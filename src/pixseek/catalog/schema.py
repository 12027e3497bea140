"""Row and metadata schemas, the schema version, and the migration ladder between versions."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pyarrow as pa

from pixseek.errors import SchemaVersionError

# Bump when the table layout changes, and add a step to MIGRATIONS that lifts version N-1 to N.
SCHEMA_VERSION = 2

# float16 halves the catalog (9,630 x 512-d: 9.9 MB instead of 19.7 MB) and keeps top-10 results;
# see benchmarks/search_bench.py --fp16-agreement for the measurement.
VECTOR_TYPE = pa.float16()

IMAGES_TABLE = "images"
META_TABLE = "meta"
META_STAGING = "meta-staging"  # the metadata table while a new catalog is being created

# One migration step: (images table, metadata) at version N-1 -> the same at version N.
Migration = Callable[[pa.Table, "IndexMeta"], tuple[pa.Table, "IndexMeta"]]


def _add_etag(table: pa.Table, meta: IndexMeta) -> tuple[pa.Table, IndexMeta]:
    """Version 2 adds `etag`; rows from before it have none, so their next listing re-checks content."""
    if "etag" in table.column_names:
        return table, meta
    return table.append_column(pa.field("etag", pa.string()), pa.nulls(table.num_rows, pa.string())), meta


# Ladder of steps keyed by the version they produce. Version 1 is the first layout; each layout change
# adds exactly one entry with a one-line comment saying what it changes.
MIGRATIONS: Mapping[int, Migration] = {
    2: _add_etag,  # the object store's ETag of each row's bytes (None for local files)
}


def image_schema(dim: int) -> pa.Schema:
    """The images table: one row per indexed file; `vector` is L2-normalised."""
    return pa.schema(
        [
            pa.field("id", pa.string(), nullable=False),
            pa.field("root", pa.string(), nullable=False),  # absolute folder that was indexed
            pa.field("path", pa.string(), nullable=False),  # POSIX path relative to root
            pa.field("size", pa.int64(), nullable=False),
            pa.field("mtime_ns", pa.int64(), nullable=False),
            pa.field("content_hash", pa.string(), nullable=False),
            pa.field("width", pa.int32(), nullable=False),
            pa.field("height", pa.int32(), nullable=False),
            pa.field("label", pa.string()),  # first folder level under root; None at the top
            pa.field("etag", pa.string()),  # object-store ETag when listed with one; None for local files
            pa.field("vector", pa.list_(VECTOR_TYPE, dim), nullable=False),
        ]
    )


RECORD_COLUMNS = [f.name for f in image_schema(1) if f.name != "vector"]

META_SCHEMA = pa.schema(
    [
        pa.field("schema_version", pa.int32()),
        pa.field("model", pa.string()),  # the embedder's name
        pa.field("model_ref", pa.string()),  # what to pass to load_embedder to get it back
        pa.field("fingerprint", pa.string()),
        pa.field("dim", pa.int32()),
        pa.field("last_indexed", pa.string()),  # ISO 8601 UTC, None until a run finishes
    ]
)


@dataclass(frozen=True, slots=True)
class ImageRecord:
    """One catalog row, without its vector."""

    id: str
    root: str
    path: str
    size: int
    mtime_ns: int
    content_hash: str
    width: int
    height: int
    label: str | None
    etag: str | None = None

    @property
    def absolute_path(self) -> Path:
        return Path(self.root) / self.path


@dataclass(frozen=True, slots=True)
class IndexMeta:
    """What an index was built with: checked on every open so a model change is detected."""

    model: str
    model_ref: str
    fingerprint: str
    dim: int
    schema_version: int = SCHEMA_VERSION
    last_indexed: str | None = None

    def to_table(self) -> pa.Table:
        return pa.Table.from_pylist([asdict(self)], schema=META_SCHEMA)

    @classmethod
    def from_table(cls, table: pa.Table) -> IndexMeta:
        rows = table.to_pylist()
        if len(rows) != 1:
            raise SchemaVersionError(f"index metadata has {len(rows)} rows instead of 1; re-create the index")
        return cls(**{k: rows[0][k] for k in META_SCHEMA.names})


def migrate(
    table: pa.Table, meta: IndexMeta, *, ladder: Mapping[int, Migration] = MIGRATIONS
) -> tuple[pa.Table, IndexMeta]:
    """Lift a catalog to SCHEMA_VERSION one step at a time, or explain why it cannot be."""
    check_migratable(meta, ladder=ladder)
    version = meta.schema_version
    while version < SCHEMA_VERSION:
        table, meta = ladder[version + 1](table, meta)
        version += 1
        meta = replace(meta, schema_version=version)
    return table, meta


def check_migratable(meta: IndexMeta, *, ladder: Mapping[int, Migration] = MIGRATIONS) -> None:
    """Raise SchemaVersionError unless `ladder` can lift `meta`'s version to SCHEMA_VERSION."""
    if meta.schema_version > SCHEMA_VERSION:
        raise SchemaVersionError(
            f"this index has schema version {meta.schema_version}, newer than this pixseek "
            f"understands ({SCHEMA_VERSION}); upgrade pixseek"
        )
    for version in range(meta.schema_version, SCHEMA_VERSION):
        if version + 1 not in ladder:
            raise SchemaVersionError(
                f"this index has schema version {version}, which cannot be migrated to "
                f"{SCHEMA_VERSION}; delete it and run `pixseek index` again"
            )


def needs_migration(meta: IndexMeta) -> bool:
    return meta.schema_version != SCHEMA_VERSION


def rows_table(records: list[ImageRecord], vectors: np.ndarray, dim: int) -> pa.Table:
    """Catalog rows for `records` with their vectors (any float dtype), in the table's schema."""
    schema = image_schema(dim)
    columns: dict[str, pa.Array] = {
        name: pa.array([getattr(r, name) for r in records], type=schema.field(name).type)
        for name in RECORD_COLUMNS
    }
    flat = pa.array(np.asarray(vectors, dtype=VECTOR_TYPE.to_pandas_dtype()).reshape(-1), type=VECTOR_TYPE)
    columns["vector"] = pa.FixedSizeListArray.from_arrays(flat, dim)
    return pa.Table.from_pydict(columns, schema=schema)


@dataclass(frozen=True)
class CatalogSnapshot:
    """Every row of one catalog version, vectors as an L2-normalised float32 matrix (None when left out).

    `ids`, `roots`, `paths` and `labels` build Python lists on every access: fine for small catalogs and
    tests; large ones read `rows` (Arrow) instead."""

    version: int
    rows: pa.Table  # id, root, path, label: Arrow, compact at any size
    vectors: np.ndarray | None

    @property
    def ids(self) -> list[str]:
        return self.rows.column("id").to_pylist()

    @property
    def roots(self) -> list[str]:
        return self.rows.column("root").to_pylist()

    @property
    def paths(self) -> list[str]:
        return self.rows.column("path").to_pylist()

    @property
    def labels(self) -> list[str | None]:
        return self.rows.column("label").to_pylist()
