"""Schema version ladder and row conversion."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pyarrow as pa
import pytest

from pixseek.catalog import SCHEMA_VERSION, ImageRecord, IndexMeta
from pixseek.catalog.schema import image_schema, migrate, rows_table
from pixseek.errors import SchemaVersionError

META = IndexMeta(model="fake", model_ref="fake", fingerprint="fp", dim=4)


def _record(i: int) -> ImageRecord:
    return ImageRecord(f"id{i}", "/r", f"a/{i}.png", 10, 20, f"h{i}", 3, 4, "a")


def test_rows_table_round_trips_records_and_vectors() -> None:
    vectors = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    table = rows_table([_record(i) for i in range(3)], vectors, 4)
    assert table.schema == image_schema(4)
    assert table.column("path").to_pylist() == ["a/0.png", "a/1.png", "a/2.png"]
    back = table.column("vector").combine_chunks().flatten().to_numpy().reshape(3, 4)
    np.testing.assert_allclose(back, vectors, rtol=1e-3)


def test_current_version_needs_no_migration() -> None:
    table = pa.table({"x": [1]})
    assert migrate(table, META) == (table, META)


def test_newer_schema_is_refused() -> None:
    with pytest.raises(SchemaVersionError, match="upgrade pixseek"):
        migrate(pa.table({}), replace(META, schema_version=SCHEMA_VERSION + 1))


def test_older_schema_without_a_ladder_step_is_explained() -> None:
    with pytest.raises(SchemaVersionError, match="cannot be migrated"):
        migrate(pa.table({}), replace(META, schema_version=SCHEMA_VERSION - 1), ladder={})


def test_ladder_applies_each_step_in_order() -> None:
    calls: list[int] = []

    def step(version: int):
        def apply(table: pa.Table, meta: IndexMeta) -> tuple[pa.Table, IndexMeta]:
            calls.append(version)
            return table.append_column(f"v{version}", pa.array([version])), meta

        return apply

    old = replace(META, schema_version=SCHEMA_VERSION - 2)
    ladder = {SCHEMA_VERSION - 1: step(SCHEMA_VERSION - 1), SCHEMA_VERSION: step(SCHEMA_VERSION)}
    table, meta = migrate(pa.table({"x": [0]}), old, ladder=ladder)
    assert calls == [SCHEMA_VERSION - 1, SCHEMA_VERSION]
    assert meta.schema_version == SCHEMA_VERSION
    assert table.column_names == ["x", f"v{SCHEMA_VERSION - 1}", f"v{SCHEMA_VERSION}"]
