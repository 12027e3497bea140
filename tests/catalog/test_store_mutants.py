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
    from pixseek.catalog import store as store_module

    asked: list[tuple[str, str]] = []

    def committed(uri: str, table: str) -> bool:
        asked.append((uri, table))
        return True

    monkeypatch.setattr(store_module, "remote_table_committed", committed)
    assert Catalog.exists("s3://bucket/catalogs/x") is True
    assert asked == [("s3://bucket/catalogs/x", "meta")]
