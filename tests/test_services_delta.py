"""New rows are searchable the moment their version is committed: the ANN index of an older version keeps
serving, with the rows changed since searched exactly, until the change passes the bound."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pixseek import Query
from pixseek.catalog import Catalog, ImageRecord, IndexMeta
from pixseek.catalog.schema import rows_table
from pixseek.services import Index
from pixseek.settings import Settings
from tests.fakes import FakeEmbedder
from tests.indexing.images import make_tree

PATHS = [f"{label}/{i}.png" for label in ("cats", "dogs") for i in range(20)]  # 40 rows: 4 may change


def _by_vector(index: Index, vector: np.ndarray, k: int) -> list[str]:
    return [h.id for h in index.search(Query(vectors=((vector, 1.0),)), k=k)]


def test_new_rows_are_searchable_at_once_through_the_old_index(tmp_path: Path) -> None:
    make_tree(tmp_path / "imgs", PATHS)
    settings = Settings(ann_threshold=10)
    writer = Index(tmp_path / "db", embedder=FakeEmbedder(), settings=settings)
    writer.add(tmp_path / "imgs", workers=0)
    built = sorted(p.name for p in (tmp_path / "db").glob("ann-v*"))
    assert len(built) == 3  # the index, its digest and its row keys
    replica = Index(tmp_path / "db", embedder=FakeEmbedder(), settings=settings)
    make_tree(tmp_path / "imgs", ["owls/new1.png", "owls/new2.png"], first_seed=100)
    (tmp_path / "imgs/cats/0.png").unlink()
    report = writer.add(tmp_path / "imgs", workers=0)
    assert (report.added, report.removed) == (2, 1)
    assert sorted(p.name for p in (tmp_path / "db").glob("ann-v*")) == built  # no rebuild: 3 <= 4
    for new in ("owls/new1.png", "owls/new2.png"):
        row_id, vector = replica.stored(new)
        assert _by_vector(replica, vector, 1) == [row_id]
    assert replica.readiness().ann_delta == 3
    everything = replica.search(text="cat", k=100)
    assert sorted(h.path for h in everything) == sorted([*PATHS[1:], "owls/new1.png", "owls/new2.png"])


def test_a_rebuild_for_the_version_served_replaces_the_delta_without_a_new_version(tmp_path: Path) -> None:
    make_tree(tmp_path / "imgs", PATHS)
    settings = Settings(ann_threshold=10)
    writer = Index(tmp_path / "db", embedder=FakeEmbedder(), settings=settings)
    writer.add(tmp_path / "imgs", workers=0)
    make_tree(tmp_path / "imgs", ["owls/new.png"], first_seed=100)
    writer.add(tmp_path / "imgs", workers=0)
    replica = Index(tmp_path / "db", embedder=FakeEmbedder(), settings=settings)
    replica.warm()
    version = replica.readiness().version
    assert replica.readiness().ann_delta == 1
    writer.add(tmp_path / "imgs", workers=0, rebuild_ann=True)
    assert (tmp_path / f"db/ann-v{version}.faiss").is_file()
    assert replica.readiness().version == version
    replica.warm()
    assert replica.readiness().ann_delta == 0  # picked up the rebuild of the same version


def test_a_change_past_the_bound_rebuilds(tmp_path: Path) -> None:
    make_tree(tmp_path / "imgs", PATHS)
    writer = Index(tmp_path / "db", embedder=FakeEmbedder(), settings=Settings(ann_threshold=10))
    writer.add(tmp_path / "imgs", workers=0)
    make_tree(tmp_path / "imgs", [f"owls/{i}.png" for i in range(5)], first_seed=100)  # 5 > 4
    writer.add(tmp_path / "imgs", workers=0)
    version = writer.readiness().version
    assert sorted(p.name for p in (tmp_path / "db").glob("ann-v*")) == [
        f"ann-v{version}.faiss",
        f"ann-v{version}.faiss.crc32",
        f"ann-v{version}.keys.npy",
    ]
    assert writer.readiness().ann_delta == 0


DIM, N = 32, 2400


def _vectors(n: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _records(start: int, n: int) -> list[ImageRecord]:
    return [
        ImageRecord(f"id{i:05d}", "/photos", f"{i}.jpg", 1, 1, f"h{i}", 1, 1, None)
        for i in range(start, start + n)
    ]


@pytest.fixture
def past_ram_db(tmp_path: Path) -> tuple[Path, np.ndarray]:
    path = tmp_path / "db"
    catalog = Catalog.create(path, IndexMeta("fake", "fake", "f" * 12, DIM))
    vectors = _vectors(N, 0)
    catalog.append(rows_table(_records(0, N), vectors, DIM))
    return path, vectors


def test_past_ram_new_rows_are_searched_exactly_beside_the_compressed_index(
    past_ram_db: tuple[Path, np.ndarray],
) -> None:
    db, vectors = past_ram_db
    settings = Settings(compressed_threshold=1000)
    Index(db, settings=settings).warm()
    first = sorted(p.name for p in db.glob("*-v*"))
    catalog = Catalog.open(db)
    new = _vectors(30, 1)
    catalog.append(rows_table(_records(N, 30), new, DIM))
    catalog.delete([f"id{i:05d}" for i in range(0, 200, 10)])  # 20 rows: 50 changes <= 240
    replica = Index(db, settings=settings)
    for i in (0, 17, 29):
        assert _by_vector(replica, new[i], 1) == [f"id{N + i:05d}"]
        np.testing.assert_allclose(replica.stored(f"id{N + i:05d}")[1], new[i], atol=1e-3)
    np.testing.assert_allclose(replica.stored("id02000")[1], vectors[2000], atol=1e-3)  # rows moved up
    assert replica.readiness().ann_delta == 50
    assert sorted(p.name for p in db.glob("*-v*")) == first  # nothing rebuilt
    exact = Index(db)
    for q in (vectors[5], vectors[1234], new[3]):
        want = [h.id for h in exact.search(Query(vectors=((q, 1.0),)), k=10)]
        assert len(set(_by_vector(replica, q, 10)) & set(want)) >= 9
    assert "id00010" not in {h.id for h in replica.search(Query(vectors=((vectors[10], 1.0),)), k=10)}


def test_a_reader_serves_past_the_bound_and_a_writer_rebuilds(past_ram_db: tuple[Path, np.ndarray]) -> None:
    db, _ = past_ram_db
    settings = Settings(compressed_threshold=1000)
    Index(db, settings=settings).warm()
    new = _vectors(300, 2)
    Catalog.open(db).append(rows_table(_records(N, 300), new, DIM))  # 300 > 240, a tenth of the catalog
    reader = Index(db, settings=settings)
    assert _by_vector(reader, new[299], 1) == [f"id{N + 299:05d}"]
    assert reader.readiness().ann_delta == 300  # within 4 x 240: no index of its own
    version = reader.readiness().version
    assert not (db / f"pq-v{version}.faiss").exists()
    Index(db, settings=settings)._matrix().ann(db, writer=True)  # what `pixseek index` does after a run
    assert (db / f"pq-v{version}.faiss").is_file()
    reader.warm()
    assert reader.readiness().ann_delta == 0
