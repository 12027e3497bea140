"""Reads that a concurrent writer's compaction breaks (it deletes the files of the version a reader began
on) are retried on the table as it is now: found by the soak as 500s, and by CI as a failed `info`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pixseek.catalog import Catalog, ImageRecord, IndexMeta
from pixseek.catalog import store as store_module
from pixseek.catalog.schema import rows_table
from pixseek.errors import StorageError

META = IndexMeta(model="fake", model_ref="fake", fingerprint="fp", dim=4)
GONE = RuntimeError("lance error: Not found: images.lance/data/0101.lance")


def _catalog(tmp_path: Path) -> Catalog:
    cat = Catalog.create(tmp_path / "x.db", META)
    record = ImageRecord("a", str(tmp_path), "a.png", 1, 1, "h", 2, 3, None)
    cat.append(rows_table([record], np.eye(4, dtype=np.float32)[:1], 4))
    return cat


class _FailingFirst:
    """Wraps a table: its first `failures` calls of `method` raise as when a compaction removed files."""

    def __init__(self, table: object, method: str, failures: int) -> None:
        self._table, self._method, self.failures = table, method, failures

    def __getattr__(self, name: str) -> object:
        attr = getattr(self._table, name)
        if name != self._method:
            return attr

        def flaky(*args: object, **kwargs: object) -> object:
            if self.failures:
                self.failures -= 1
                raise GONE
            return attr(*args, **kwargs)

        return flaky


@pytest.mark.parametrize("failures", [1, 2])
def test_a_count_is_retried_on_the_latest_version(tmp_path: Path, failures: int) -> None:
    cat = _catalog(tmp_path)
    cat._images = _FailingFirst(cat._images, "count_rows", failures)  # type: ignore[assignment]
    assert cat.count() == 1


def test_a_read_gives_up_after_three_attempts(tmp_path: Path) -> None:
    cat = _catalog(tmp_path)
    cat._images = _FailingFirst(cat._images, "count_rows", 3)  # type: ignore[assignment]
    with pytest.raises(StorageError, match=r"cannot read the index at .*Not found") as raised:
        cat.count()
    assert isinstance(raised.value.__cause__, RuntimeError)  # the third attempt's own error


def test_opening_retries_the_metadata_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = _catalog(tmp_path).path
    real = store_module.IndexMeta.from_table
    calls = {"n": 0}

    def flaky(table: object) -> IndexMeta:
        calls["n"] += 1
        if calls["n"] == 1:
            raise GONE
        return real(table)

    monkeypatch.setattr(store_module.IndexMeta, "from_table", staticmethod(flaky))
    assert Catalog.open(db).meta == META and calls["n"] == 2


def test_a_failing_move_to_the_latest_version_is_retried_too(tmp_path: Path) -> None:
    """The read fails, and so does the move to the latest version before its retry (a store that drops out
    for a moment): the next attempt still runs, and succeeds."""
    cat = _catalog(tmp_path)
    cat._images = _FailingFirst(cat._images, "checkout_latest", 2)  # type: ignore[assignment]
    assert cat.count() == 1
