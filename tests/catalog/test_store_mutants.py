"""Store details the mutation run found unguarded, checked without an object store."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from pixseek.catalog import Catalog, IndexMeta
from pixseek.errors import SchemaVersionError

META = IndexMeta(model="fake", model_ref="fake", fingerprint="fp", dim=4)


def test_an_object_store_catalog_sizes_its_own_prefix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """bytes_on_disk of an s3:// catalog is the store's total under that catalog's URI, not a local walk."""
    cat = Catalog.create(tmp_path / "x.db", META)
    cat.path = "s3://bucket/index.db"  # as Catalog.open keeps an object-store location: a string
    asked: list[object] = []
    monkeypatch.setattr("pixseek.catalog.store.remote_bytes", lambda uri: asked.append(uri) or 12_345)
    assert cat.bytes_on_disk() == 12_345
    assert asked == ["s3://bucket/index.db"]


def test_a_reader_of_an_older_catalog_is_told_exactly_how_to_upgrade_it(tmp_path: Path) -> None:
    """The whole message, not a fragment: a reader never rewrites, and `pixseek index` is the upgrade."""
    db = tmp_path / "x.db"
    Catalog.create(db, META).set_meta(replace(META, schema_version=1))
    with pytest.raises(SchemaVersionError) as info:
        Catalog.open(db)
    assert str(info.value) == (
        f"index at {db} has schema version 1; run `pixseek index` on it once to upgrade it"
    )


def test_an_object_store_catalog_exists_when_its_metadata_table_is_committed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """For a URI, existence is asked of the store: the metadata table's committed manifest, by its name."""
    from pixseek.catalog import db_path

    asked: list[tuple[str, str]] = []

    def committed(uri: str, table: str) -> bool:
        asked.append((uri, table))
        return True

    monkeypatch.setattr(db_path, "remote_table_committed", committed)
    assert Catalog.exists("s3://bucket/catalogs/x") is True
    assert asked == [("s3://bucket/catalogs/x", "meta")]


def test_an_object_store_catalog_is_created_with_both_tables_and_no_staging(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The object-store branch of create, on a local folder given as a plain string (as a URI is kept):
    the images table with the catalog's schema, then the metadata table, written in place."""
    from pixseek.catalog import store as store_module

    uri = str(tmp_path / "remote.db")
    monkeypatch.setattr(store_module, "as_location", str)
    created = Catalog.create(uri, META)
    assert created.meta == META and created.count() == 0 and created.path == uri
    assert sorted(p.name for p in Path(uri).iterdir()) == ["images.lance", "meta.lance"]
    reopened = Catalog.open(Path(uri))
    assert reopened.meta == META
    assert reopened._images.schema.field("vector").type.list_size == META.dim
    Catalog.create(uri, META)  # again over the same prefix: both tables are overwritten, not refused
    assert Catalog.open(Path(uri)).count() == 0


def test_a_creation_killed_before_its_metadata_table_is_redone(tmp_path: Path) -> None:
    """A first run killed after the images table, or inside the staging step, leaves folders that the
    next create must replace rather than trip over."""
    import shutil

    import lancedb
    import pyarrow as pa

    db = tmp_path / "x.db"
    Catalog.create(db, META)
    shutil.rmtree(db / "meta.lance")  # as if killed before the rename
    stale = pa.table({"left": ["by a killed run"]})  # a whole staging table, even another schema
    lancedb.connect(db).create_table("meta-staging", stale)
    again = Catalog.create(db, META)
    assert again.meta == META and Catalog.open(db).meta == META
    assert sorted(p.name for p in db.iterdir()) == ["images.lance", "meta.lance"]


class _FlakyConnection:
    """A LanceDB connection whose first `failures` opens fail, as when a compaction removed the files of
    the metadata version a reader was opening."""

    def __init__(self, conn: object, failures: int, error: type[Exception] = OSError) -> None:
        self._conn = conn
        self.failures = failures
        self.error = error

    def open_table(self, name: str) -> object:
        if self.failures:
            self.failures -= 1
            raise self.error("meta fragment removed by a concurrent compaction")
        return self._conn.open_table(name)  # type: ignore[attr-defined]


@pytest.mark.parametrize("failures", [1, 2])
@pytest.mark.parametrize("error", [OSError, RuntimeError])  # Lance raises either for a removed file
def test_a_metadata_read_is_retried_after_a_compaction_broke_it(
    tmp_path: Path, failures: int, error: type[Exception]
) -> None:
    from pixseek.catalog.access import read_meta

    conn = Catalog.create(tmp_path / "x.db", META)._conn
    assert read_meta(_FlakyConnection(conn, failures, error)) == META


def test_a_metadata_read_gives_up_after_three_failures_with_the_cause(tmp_path: Path) -> None:
    from pixseek.catalog.access import read_meta

    conn = Catalog.create(tmp_path / "x.db", META)._conn
    with pytest.raises(OSError, match=r"^meta fragment removed by a concurrent compaction$"):
        read_meta(_FlakyConnection(conn, 3))


def test_a_snapshot_without_vectors_never_reads_the_vector_column(tmp_path: Path) -> None:
    """Past RAM the vectors must stay on disk: the light snapshot asks the table for the metadata only."""
    import numpy as np

    from pixseek.catalog.schema import rows_table
    from tests.catalog.test_store_reads import _record

    cat = Catalog.create(tmp_path / "x.db", META)
    cat.append(rows_table([_record("a"), _record("b")], np.eye(2, 4, dtype=np.float32) + 0.1, 4))
    asked: list[list[str]] = []
    opened = cat._pinned_images

    class Spy:
        def __init__(self, table: object) -> None:
            self._table = table
            self.version = table.version  # type: ignore[attr-defined]

        def search(self) -> object:
            query = self._table.search()  # type: ignore[attr-defined]
            select = query.select

            def recording(columns: list[str]) -> object:
                asked.append(list(columns))
                return select(columns)

            query.select = recording
            return query

    cat._pinned_images = lambda: Spy(opened())  # type: ignore[method-assign]
    light = cat.snapshot(vectors=False)
    assert light.ids == ["a", "b"] and light.vectors is None
    assert asked == [["id", "root", "path", "label"]]
