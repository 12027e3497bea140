"""Catalog store details: quoting in filters, one row per id, the new-folder check, the migration path."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from pixseek.catalog import Catalog, ImageRecord, IndexMeta
from pixseek.catalog import schema as catalog_schema
from pixseek.catalog.db_path import check_db_path, check_new_db_path
from pixseek.catalog.schema import rows_table
from pixseek.errors import CatalogError, SchemaVersionError, StorageError

META = IndexMeta(model="fake", model_ref="fake", fingerprint="fp", dim=4)


def _record(row_id: str, root: str = "/r", path: str | None = None, label: str | None = None) -> ImageRecord:
    return ImageRecord(row_id, root, path or f"{row_id}.png", 1, 2, f"h-{row_id}", 5, 6, label)


def _add(cat: Catalog, records: list[ImageRecord]) -> None:
    vectors = np.eye(len(records), 4, dtype=np.float32) + 0.5  # any nonzero rows
    cat.append(rows_table(records, vectors, 4))


def test_quotes_in_roots_and_ids_are_escaped_not_interpreted(tmp_path: Path) -> None:
    """A folder like /photos/Bob's trip must filter as a string, and a quote must not open an injection."""
    cat = Catalog.create(tmp_path / "x.db", META)
    quoted, other = _record("it's", root="/photos/Bob's trip"), _record("plain", root="/photos/x")
    _add(cat, [quoted, other])
    assert cat.records(root="/photos/Bob's trip") == [quoted]
    assert cat.records(root="/photos/x' OR '1'='1") == []
    assert cat.record("it's") == quoted
    assert set(cat.vectors_for(["it's"])) == {"it's"}
    cat.delete(["it's"])
    assert [r.id for r in cat.records()] == ["plain"]


def test_upsert_replaces_a_row_instead_of_adding_a_second_one(tmp_path: Path) -> None:
    cat = Catalog.create(tmp_path / "x.db", META)
    _add(cat, [_record("a"), _record("b")])
    moved = _record("a", path="moved.png")
    cat.upsert(rows_table([moved], np.ones((1, 4), np.float32), 4))
    assert cat.count() == 2
    assert sorted((r.id, r.path) for r in cat.records()) == [("a", "moved.png"), ("b", "b.png")]


def test_a_new_catalog_may_go_into_a_missing_or_empty_folder_or_beside_a_lock(tmp_path: Path) -> None:
    check_new_db_path(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    check_new_db_path(tmp_path / "empty")
    leftover = tmp_path / "crashed"
    leftover.mkdir()
    (leftover / ".pixseek-write.lock").write_text("")  # what a run that crashed early leaves
    (leftover / "images.lance").mkdir()
    check_new_db_path(leftover)


def test_a_folder_of_other_files_is_refused_naming_three_of_them(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ["d.jpg", "a.jpg", "c.jpg", "b.jpg"]:
        (photos / name).write_bytes(b"x")
    message = (
        f"--db {photos} is a folder with other files in it (a.jpg, b.jpg, c.jpg...), not a "
        "pixseek index; choose a new or empty folder"
    )
    with pytest.raises(CatalogError, match=f"^{re.escape(message)}$"):
        check_new_db_path(photos)


def _label_step(table: pa.Table, meta: IndexMeta) -> tuple[pa.Table, IndexMeta]:
    """A stand-in for a future schema step (0 -> 1): it rewrites every label."""
    if "label" not in table.column_names:
        return table, meta
    labels = pc.cast(pa.array(["migrated"] * table.num_rows), pa.string())
    return table.set_column(table.column_names.index("label"), "label", labels), meta


@pytest.fixture
def old_catalog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A catalog at schema version 0, with a one-step ladder that can lift it to version 1."""
    monkeypatch.setitem(catalog_schema.MIGRATIONS, 1, _label_step)  # type: ignore[index]
    db = tmp_path / "old.db"
    cat = Catalog.create(db, META)
    _add(cat, [_record("a", label="x"), _record("b", label="y")])
    cat.set_meta(replace(META, schema_version=0))
    return db


def test_an_old_catalog_is_migrated_once_by_the_lock_holder_and_stays_migrated(old_catalog: Path) -> None:
    cat = Catalog.open(old_catalog, allow_migration=True)
    assert cat.path == old_catalog and cat.meta == META  # lifted to the current version
    assert sorted((r.id, r.label) for r in cat.records()) == [("a", "migrated"), ("b", "migrated")]
    reopened = Catalog.open(old_catalog)  # no migration needed any more: a plain read-only open works
    assert reopened.meta == META and reopened.count() == 2
    assert len(reopened.snapshot().ids) == 2


def test_an_old_catalog_is_not_migrated_by_a_reader(old_catalog: Path) -> None:
    with pytest.raises(SchemaVersionError):
        Catalog.open(old_catalog)
    assert Catalog.open(old_catalog, allow_migration=True).count() == 2


def test_a_reader_is_told_to_upgrade_an_old_catalog_not_to_delete_it(old_catalog: Path) -> None:
    with pytest.raises(SchemaVersionError, match="run `pixseek index` on it once to upgrade it"):
        Catalog.open(old_catalog)


def test_each_id_finds_its_own_row(tmp_path: Path) -> None:
    cat = Catalog.create(tmp_path / "x.db", META)
    first, second = _record("first"), _record("second")
    _add(cat, [first, second])
    assert cat.record("second") == second and cat.record("first") == first
    assert cat.record("third") is None


def test_several_ids_are_deleted_in_one_call(tmp_path: Path) -> None:
    cat = Catalog.create(tmp_path / "x.db", META)
    _add(cat, [_record("a"), _record("b"), _record("c")])
    cat.delete(["a", "c"])
    assert [r.id for r in cat.records()] == ["b"]


def test_vectors_come_back_float32_and_unit_length(tmp_path: Path) -> None:
    """Stored as float16, read back as the float32 unit vectors search multiplies with."""
    cat = Catalog.create(tmp_path / "x.db", META)
    cat.append(rows_table([_record("a")], np.array([[3.0, 4.0, 0.0, 0.0]], np.float32), 4))
    expected = np.array([0.6, 0.8, 0.0, 0.0], np.float32)  # (3, 4) / 5, exact in float16 storage
    snap = cat.snapshot()
    assert snap.vectors.dtype == np.float32 and snap.vectors.shape == (1, 4)
    np.testing.assert_allclose(snap.vectors[0], expected, rtol=1e-6)
    (vector,) = cat.vectors_for(["a"]).values()
    assert vector.dtype == np.float32
    np.testing.assert_allclose(vector, expected, rtol=1e-6)


def _versions(table_folder: Path) -> int:
    return len(list((table_folder / "_versions").iterdir()))


def test_compact_can_leave_the_images_history_alone(tmp_path: Path) -> None:
    """compact(images=False) rewrites only the metadata table's history; compact() both."""
    db = tmp_path / "x.db"
    cat = Catalog.create(db, META)
    for i in range(3):
        _add(cat, [_record(f"r{i}")])
        cat.set_meta(META)
    images_before, meta_before = _versions(db / "images.lance"), _versions(db / "meta.lance")
    cat.compact(images=False)
    assert _versions(db / "images.lance") == images_before
    assert _versions(db / "meta.lance") < meta_before
    cat.compact()
    assert _versions(db / "images.lance") < images_before
    assert sorted(r.id for r in cat.records()) == ["r0", "r1", "r2"]


def test_holds_root_answers_for_one_exact_root(tmp_path: Path) -> None:
    cat = Catalog.create(tmp_path / "x.db", META)
    _add(cat, [_record("a", root="/photos/Bob's trip"), _record("b", root="/photos/x")])
    assert cat.holds_root("/photos/Bob's trip") and cat.holds_root("/photos/x")
    assert not cat.holds_root("/photos") and not cat.holds_root("/photos/y")


def test_every_write_first_calls_the_before_write_hook(tmp_path: Path) -> None:
    """The object-store writer renews its lease there before each commit; a missed call loses the lease."""
    cat = Catalog.create(tmp_path / "x.db", META)
    calls: list[str] = []
    cat.before_write = lambda: calls.append("renew")
    _add(cat, [_record("a"), _record("b")])
    cat.upsert(rows_table([_record("a", path="moved.png")], np.ones((1, 4), np.float32), 4))
    cat.delete(["b"])
    cat.set_meta(META)
    cat.compact()
    assert calls == ["renew"] * 5


def test_bytes_on_disk_is_the_size_of_every_file_in_the_folder(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    cat = Catalog.create(db, META)
    _add(cat, [_record("a")])
    expected = sum(p.stat().st_size for p in db.rglob("*") if p.is_file())
    assert expected > 0 and cat.bytes_on_disk() == expected


def test_bytes_on_disk_skips_a_file_that_vanished_mid_walk(tmp_path: Path) -> None:
    """A concurrent compaction deletes files while we add sizes up; a dangling link stands in for one."""
    db = tmp_path / "x.db"
    cat = Catalog.create(db, META)
    _add(cat, [_record("a")])
    expected = sum(p.stat().st_size for p in db.rglob("*") if p.is_file())
    (db / "images.lance" / "gone.lance").symlink_to(tmp_path / "deleted-by-compaction")
    assert cat.bytes_on_disk() == expected


def test_an_object_store_prefix_needs_no_local_folder_checks() -> None:
    """Any s3:// prefix can hold a catalog: there is no local file or folder to refuse."""
    check_db_path("s3://bucket/catalogs/x")
    check_new_db_path("s3://bucket/catalogs/x")


def test_a_catalog_is_created_with_its_missing_parent_folders(tmp_path: Path) -> None:
    db = tmp_path / "new" / "nested" / "x.db"
    Catalog.create(db, META)
    assert Catalog.open(db).meta == META


def test_a_creation_the_filesystem_refuses_names_the_catalog_and_the_cause(tmp_path: Path) -> None:
    """A file where a parent folder should be: StorageError with the path, not a bare OSError."""
    (tmp_path / "a-file").write_text("x")
    db = tmp_path / "a-file" / "x.db"
    with pytest.raises(
        StorageError, match=f"^{re.escape(f'cannot write the index at {db}: Not a directory')}$"
    ):
        Catalog.create(db, META)


class _FlakyTable:
    """The images table, whose first `failures` full reads fail as when a compaction removes files."""

    def __init__(self, table: object, failures: list[int]) -> None:
        self._table = table
        self.failures = failures  # shared by every handle the catalog opens

    def search(self) -> object:
        if self.failures[0]:
            self.failures[0] -= 1
            raise OSError("fragment file removed by a concurrent compaction")
        return self._table.search()  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> object:
        return getattr(self._table, name)


def _flaky(cat: Catalog, failures: int) -> None:
    left = [failures]
    opened = cat._pinned_images
    cat._pinned_images = lambda: _FlakyTable(opened(), left)  # type: ignore[method-assign]


@pytest.mark.parametrize("failures", [1, 2])
def test_a_snapshot_retries_a_read_that_a_compaction_broke(tmp_path: Path, failures: int) -> None:
    cat = Catalog.create(tmp_path / "x.db", META)
    _add(cat, [_record("a")])
    _flaky(cat, failures)
    assert cat.snapshot().ids == ["a"]


def test_a_snapshot_gives_up_after_three_failed_reads(tmp_path: Path) -> None:
    cat = Catalog.create(tmp_path / "x.db", META)
    _add(cat, [_record("a")])
    _flaky(cat, 3)
    with pytest.raises(StorageError, match=r"^cannot read the index at .*x\.db: .*concurrent compaction"):
        cat.snapshot()


def test_vector_batches_stream_one_version_in_the_snapshots_row_order(tmp_path: Path) -> None:
    """Past RAM, the metadata comes from a snapshot without vectors and the vectors from batches: both must
    be the same version in the same order, even after deletes, upserts and a compaction reordered rows."""
    cat = Catalog.create(tmp_path / "x.db", META)
    rng = np.random.default_rng(3)
    for start in range(0, 30, 10):
        records = [_record(f"r{i:02d}") for i in range(start, start + 10)]
        cat.append(rows_table(records, rng.standard_normal((10, 4)).astype(np.float32) + 2, 4))
    cat.delete(["r04", "r17"])
    cat.upsert(rows_table([_record("r05")], np.array([[9, 0, 0, 1]], np.float32), 4))
    cat.compact()
    full = cat.snapshot()
    light = cat.snapshot(vectors=False)
    assert light.vectors is None and light.version == full.version
    assert light.ids == full.ids and light.paths == full.paths and len(full.ids) == 28
    batches = list(cat.vector_batches(full.version, rows_per_batch=6))
    streamed = np.concatenate(batches)
    np.testing.assert_array_equal(streamed, full.vectors)
    expected_r05 = np.array([9, 0, 0, 1], np.float32) / np.sqrt(82)  # the upserted row, normalised
    np.testing.assert_allclose(streamed[full.ids.index("r05")], expected_r05, atol=1e-3)
    assert all(len(b) <= 6 for b in batches)
    cat.append(rows_table([_record("late")], np.ones((1, 4), np.float32), 4))
    assert sum(len(b) for b in cat.vector_batches(full.version)) == 28  # pinned: a later commit is not seen
