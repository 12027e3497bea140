"""The LanceDB store: create, open, write, snapshot, compact, lock."""

from __future__ import annotations

import multiprocessing
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from pixseek.catalog import Catalog, ImageRecord, IndexMeta, write_lock
from pixseek.catalog.schema import META_TABLE, rows_table
from pixseek.errors import CatalogError, IndexBusyError, SchemaVersionError, StorageError

META = IndexMeta(model="fake", model_ref="fake", fingerprint="fp", dim=4)


def _rows(ids: list[str], seed: int = 0):
    rng = np.random.default_rng(seed)
    records = [ImageRecord(i, "/r", f"{i}.png", 1, 2, f"h-{i}", 5, 6, None) for i in ids]
    return records, rng.standard_normal((len(ids), 4)).astype(np.float32)


def test_create_open_write_read(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    cat = Catalog.create(db, META)
    records, vectors = _rows(["a", "b", "c"])
    cat.append(rows_table(records, vectors, 4))
    v1 = cat.version()
    reopened = Catalog.open(db)
    assert reopened.meta == META
    assert sorted(r.id for r in reopened.records()) == ["a", "b", "c"]
    snap = reopened.snapshot()
    assert snap.version == v1
    expected = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    order = [snap.ids.index(i) for i in ["a", "b", "c"]]
    np.testing.assert_allclose(snap.vectors[order], expected, atol=2e-3)  # float16 storage
    np.testing.assert_allclose(np.linalg.norm(snap.vectors, axis=1), 1.0, rtol=1e-6)

    new_b = replace(records[1], path="moved.png")
    cat.upsert(rows_table([new_b], vectors[1:2], 4))
    cat.delete(["c"])
    assert reopened.version() > v1  # another handle sees the new version
    assert {r.id: r.path for r in reopened.records()} == {"a": "a.png", "b": "moved.png"}
    assert reopened.record("b") == new_b and reopened.record("zzz") is None
    assert set(reopened.vectors_for(["a", "zzz"])) == {"a"}


def test_compact_keeps_rows_and_shrinks_history(tmp_path: Path) -> None:
    cat = Catalog.create(tmp_path / "x.db", META)
    for i in range(5):
        records, vectors = _rows([f"id{i}"], seed=i)
        cat.append(rows_table(records, vectors, 4))
    before = cat.snapshot()
    cat.compact()
    after = cat.snapshot()
    assert sorted(after.ids) == sorted(before.ids)
    versions = list((tmp_path / "x.db" / "images.lance" / "_versions").iterdir())
    assert len(versions) <= 2


def test_open_errors(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="no pixseek index"):
        Catalog.open(tmp_path / "missing.db")
    a_file = tmp_path / "file.db"
    a_file.write_text("not a db")
    with pytest.raises(CatalogError, match="is a file"):
        Catalog.open(a_file)
    with pytest.raises(CatalogError, match="is a file"):
        Catalog.create(a_file, META)
    assert a_file.read_text() == "not a db"


@pytest.mark.parametrize("table", ["images", "meta"])
@pytest.mark.parametrize("damage", ["manifest", "folder"])
def test_a_damaged_or_missing_table_is_one_storage_error(tmp_path: Path, table: str, damage: str) -> None:
    """Lance's raw error (a page of Rust debug output) or lancedb's ValueError became a traceback."""
    import shutil

    db = tmp_path / "x.db"
    Catalog.create(db, META)
    folder = db / f"{table}.lance"
    if damage == "manifest":
        for manifest in (folder / "_versions").glob("*.manifest"):
            manifest.write_bytes(b"junk\n")
    else:
        shutil.rmtree(folder)
    with pytest.raises((StorageError, CatalogError)) as caught:
        Catalog.open(db)
    message = str(caught.value)
    assert str(db) in message and "\n" not in message
    if (table, damage) != ("meta", "folder"):  # no metadata table: not a catalog at all
        assert isinstance(caught.value, StorageError) and message.startswith(f"cannot read the index at {db}")


def test_old_schema_is_reported(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    cat = Catalog.create(db, META)
    cat.set_meta(replace(META, schema_version=0))
    with pytest.raises(SchemaVersionError, match="schema version 0"):
        Catalog.open(db)
    cat.set_meta(replace(META, schema_version=99))
    with pytest.raises(SchemaVersionError, match="newer"):
        Catalog.open(db)
    assert (db / f"{META_TABLE}.lance").is_dir()


def _hold_lock(db: str, ready, release) -> None:  # runs in another process
    with write_lock(Path(db)):
        ready.set()
        release.wait(30)


def test_write_lock_is_exclusive_across_processes(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_lock, args=(str(tmp_path), ready, release))
    holder.start()
    try:
        assert ready.wait(30)
        with pytest.raises(IndexBusyError, match="another pixseek process"), write_lock(tmp_path):
            pass
    finally:
        release.set()
        holder.join(30)
    with write_lock(tmp_path, timeout=5):  # free again once the holder is gone
        pass


def test_a_lock_file_that_cannot_be_opened_is_a_storage_error_naming_the_index(tmp_path: Path) -> None:
    """A read-only mount or a lock file without write permission gave PermissionError or OSError
    tracebacks-by-type; it is the documented StorageError (a directory in its place fails for root too)."""
    db = tmp_path / "x.db"
    (db / ".pixseek-write.lock").mkdir(parents=True)
    with (
        pytest.raises(StorageError, match=r"^cannot write the index at .*x\.db: .*\(its write lock"),
        write_lock(db),
    ):
        pass
