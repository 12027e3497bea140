"""A stat of the images table's `_versions` folder stands in for a Lance version read only when no commit
can have been missed: the folder must have been still for a while at the last check."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

from pixseek.catalog import Catalog, ImageRecord, IndexMeta, version_watch
from pixseek.catalog.schema import rows_table
from pixseek.catalog.version_watch import SETTLED_SECONDS, VersionWatch
from pixseek.services import Index

DIM = 8
META = IndexMeta("fake", "fake", "f" * 12, DIM)


def _rows(start: int, n: int) -> object:
    records = [
        ImageRecord(f"id{i}", "/p", f"{i}.jpg", 1, 1, f"h{i}", 1, 1, None) for i in range(start, start + n)
    ]
    vectors = np.random.default_rng(start).standard_normal((n, DIM)).astype(np.float32)
    return rows_table(records, vectors / np.linalg.norm(vectors, axis=1, keepdims=True), DIM)


def _settle(db: Path) -> None:
    """Date the `_versions` folder back, as if the last commit were a minute old."""
    folder = db / "images.lance" / "_versions"
    past = time.time() - 60
    os.utime(folder, (past, past))


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "db"
    Catalog.create(path, META).append(_rows(0, 20))
    return path


def test_a_settled_folder_is_trusted_until_a_commit_moves_it(db: Path) -> None:
    watch = VersionWatch(db)
    assert not watch.unchanged()  # never checked
    _settle(db)
    watch.checking()
    assert watch.unchanged()
    Catalog.open(db).append(_rows(20, 5))
    assert not watch.unchanged()


def test_a_folder_that_just_changed_is_not_trusted(db: Path) -> None:
    watch = VersionWatch(db)
    watch.checking()  # the commit above is milliseconds old: within the clock's coarse tick
    assert not watch.unchanged()
    folder = db / "images.lance" / "_versions"
    recent = time.time() - SETTLED_SECONDS / 2
    os.utime(folder, (recent, recent))
    watch.checking()
    assert not watch.unchanged()


def test_an_object_store_is_checked_again_once_the_interval_has_passed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [1000.0]
    monkeypatch.setattr(version_watch.time, "monotonic", lambda: now[0])
    watch = VersionWatch("s3://bucket/index", interval=1.0)
    assert not watch.unchanged()  # never checked
    watch.checking()
    now[0] += 0.999
    assert watch.unchanged()
    now[0] += 0.002
    assert not watch.unchanged()
    watch.checking()
    watch.forget()  # this process committed
    assert not watch.unchanged()
    every_time = VersionWatch("s3://bucket/index", interval=0.0)
    every_time.checking()
    assert not every_time.unchanged()


def test_forget_makes_a_settled_local_folder_checked_again(db: Path) -> None:
    watch = VersionWatch(db)
    _settle(db)
    watch.checking()
    watch.forget()
    assert not watch.unchanged()


def test_searches_skip_the_version_read_while_settled_and_see_the_next_commit(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = Index(db)
    _settle(db)
    query = np.ones(DIM, dtype=np.float32) / np.sqrt(DIM)
    index.search_vectors(query[None, :], k=3)  # loads the version and remembers the settled folder
    reads = []
    real_version = Catalog.version
    monkeypatch.setattr(Catalog, "version", lambda self: reads.append(1) or real_version(self))
    for _ in range(5):
        index.search_vectors(query[None, :], k=3)
    assert reads == []
    Catalog.open(db).append(_rows(20, 5))  # another process's commit
    assert len(index.search_vectors(query[None, :], k=30)[0]) == 25  # the very next search sees it
    assert reads == [1]
