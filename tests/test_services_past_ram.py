"""pixseek.Index past the compressed threshold: vectors stay on disk, and searches still agree with exact
search over the same catalog."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import pixseek.models.registry as registry
import pixseek.search.page_cache as page_cache
from pixseek.catalog import Catalog, ImageRecord, IndexMeta
from pixseek.catalog.schema import rows_table
from pixseek.cli import app
from pixseek.search.compressed import CompressedIndex
from pixseek.services import Index, SearchFilter
from pixseek.settings import Settings
from tests.fakes import FakeEmbedder
from tests.file_modes import refuse_writes_in
from tests.indexing.images import make_tree

DIM = 32
N = 2400
META = IndexMeta("fake", "fake", "f" * 12, DIM)


def _vectors(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(7).standard_normal((12, DIM))
    x = (centres[rng.integers(0, 12, n)] + 0.6 * rng.standard_normal((n, DIM))).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A catalog written in three commits, one row deleted, so row order is not insertion order."""
    path = tmp_path_factory.mktemp("past-ram") / "db"
    catalog = Catalog.create(path, META)
    for start in range(0, N, 800):
        records = [
            ImageRecord(f"id{i:05d}", "/photos", f"{'ab'[i % 2]}/{i}.jpg", 1, 1, "h", 1, 1, "ab"[i % 2])
            for i in range(start, start + 800)
        ]
        catalog.append(rows_table(records, _vectors(800, start), DIM))
    catalog.delete(["id00003"])
    return path


@pytest.fixture(scope="module")
def past_ram(db: Path) -> Index:
    return Index(db, settings=Settings(compressed_threshold=1000))


def test_the_vectors_stay_on_disk_and_the_index_files_sit_beside_the_catalog(
    past_ram: Index, db: Path
) -> None:
    assert past_ram.readiness().ann == "pending"
    past_ram.warm()
    assert past_ram.readiness().ann == "ready"
    assert past_ram._matrix().vectors is None
    version = past_ram.readiness().version
    assert {p.name for p in db.iterdir()} >= {f"pq-v{version}.faiss", f"vectors-v{version}.lists.f16"}


def test_like_searches_match_exact_search_on_the_same_catalog(past_ram: Index, db: Path) -> None:
    exact = Index(db)  # under every threshold: the float32 matrix in RAM
    agree = []
    for row_id in ["id00000", "id00777", "id01601", "id02399"]:
        want = [h.id for h in exact.search(like=row_id, k=10)]
        got = [h.id for h in past_ram.search(like=row_id, k=10)]
        assert row_id not in got
        agree.append(len(set(want) & set(got)) / 10)
    assert np.mean(agree) >= 0.95


def test_filters_and_stored_vectors_work_past_ram(past_ram: Index, db: Path) -> None:
    exact = Index(db)
    only_b = SearchFilter(label="b")
    want = [h.id for h in exact.search(like="id00010", k=10, filters=only_b)]
    got = past_ram.search(like="id00010", k=10, filters=only_b)
    assert [h.id for h in got] == want  # 1,200 allowed rows: searched exactly
    assert all(h.label == "b" for h in got)
    row_id, vector = past_ram.stored("id01234")
    np.testing.assert_allclose(vector, exact.stored("id01234")[1], atol=1e-3)  # float16 on disk, both
    assert row_id == "id01234"


def test_the_threshold_has_a_floor_where_pq_can_still_be_trained() -> None:
    assert Settings(compressed_threshold=1000).compressed_threshold == 1000
    with pytest.raises(ValueError, match="greater than or equal to 1000"):
        Settings(compressed_threshold=10)


def test_rebuild_ann_replaces_the_saved_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`pixseek index --rebuild-ann` on an unchanged folder: the saved index files are deleted and built
    afresh (new files), a stale file from an older version goes too, and searches still work."""
    monkeypatch.setattr(registry, "load_embedder", lambda name_or_path, *, settings: FakeEmbedder())
    folder, db = tmp_path / "imgs", tmp_path / "db"
    make_tree(folder, [f"{c}/{i}.png" for c in "ab" for i in range(4)])
    env = {"PIXSEEK_ANN_THRESHOLD": "1"}
    args = ["index", str(folder), "--db", str(db), "--workers", "0", "--model", "fake"]
    assert CliRunner().invoke(app, args, env=env).exit_code == 0
    saved = sorted(db.glob("ann-v*.faiss"))
    assert len(saved) == 1
    before = saved[0].stat().st_ino, saved[0].stat().st_mtime_ns
    (db / "ann-v1.faiss").write_bytes(b"stale")
    result = CliRunner().invoke(app, [*args, "--rebuild-ann"], env=env)
    assert result.exit_code == 0, result.output
    assert "; ANN index ready in " in result.stdout  # the build's time, apart from the run's
    rebuilt = CliRunner().invoke(app, [*args, "--rebuild-ann", "--json"], env=env)
    assert json.loads(rebuilt.stdout)["ann_seconds"] > 0
    unchanged = CliRunner().invoke(app, [*args, "--json"], env=env)
    assert json.loads(unchanged.stdout)["ann_seconds"] == 0.0  # nothing changed: nothing loaded or built
    after = sorted(db.glob("ann-v*.faiss"))
    assert [p.name for p in after] == [saved[0].name]  # same version, the stale one gone
    assert (after[0].stat().st_ino, after[0].stat().st_mtime_ns) != before  # written again
    index = Index(db, embedder=FakeEmbedder(), settings=Settings(ann_threshold=1))
    assert len(index.search(like="a/1.png", k=3)) == 3


@pytest.mark.parametrize(
    ("warmup", "waited", "expected"), [("wait", True, 1.0), ("background", False, 1.0), ("off", False, None)]
)
def test_a_replica_reads_the_vector_file_into_the_page_cache_before_it_is_ready(
    db: Path, monkeypatch: pytest.MonkeyPatch, warmup: str, waited: bool, expected: float | None
) -> None:
    waits: list[Path] = []

    class RecordedWarmup(page_cache.FileWarmup):
        def wait(self, timeout: float | None = None) -> bool:
            waits.append(self.path)
            return super().wait(timeout)

    monkeypatch.setattr(page_cache, "FileWarmup", RecordedWarmup)
    replica = Index(db, settings=Settings(compressed_threshold=1000, ann_warmup=warmup))
    assert replica.readiness().ann_cached is None
    replica.warm()
    assert [p.name for p in waits] == (
        [f"vectors-v{replica.readiness().version}.lists.f16"] if waited else []
    )
    if warmup == "background":
        assert replica._warmup is not None and replica._warmup.wait(30)
    assert replica.readiness().ann_cached == expected


def test_the_duplicate_finder_asks_in_the_vector_files_order_and_proposes_as_one_query_at_a_time(
    past_ram: Index, db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past RAM, the self-join visits rows as the vector file holds them, so its batched re-score reads
    long spans; it must propose the same pairs as asking one row at a time in row order (a single query
    re-scores alone, by another path)."""
    import pixseek.services.duplicates as service

    seen = {}
    real = service.neighbour_pairs

    def spy(n, vectors_of, index, **options):
        seen["order"], seen["ask"] = options["order"], (vectors_of, index, options["k"])
        seen["pairs"] = real(n, vectors_of, index, **options)
        return seen["pairs"]

    monkeypatch.setattr(service, "neighbour_pairs", spy)
    past_ram.duplicates()
    arrays = Index(db).arrays()
    version = past_ram.readiness().version
    in_file = np.fromfile(db / f"vectors-v{version}.lists.f16", dtype=np.float16).reshape(-1, DIM)
    np.testing.assert_array_equal(in_file, arrays.vectors.astype(np.float16)[seen["order"]])
    vectors_of, index, k = seen["ask"]
    one_by_one = real(len(arrays.ids), vectors_of, index, k=k, chunk=1)
    batched = seen["pairs"]
    assert len(batched) > 1000
    assert set(zip(batched.first.tolist(), batched.second.tolist(), strict=True)) == set(
        zip(one_by_one.first.tolist(), one_by_one.second.tolist(), strict=True)
    )


def test_a_class_posterior_search_past_ram_re_scores_a_pool_without_a_deep_refine(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pool's rows are scored exactly by the adapter, so past RAM the codes alone pick them: about
    2 x 200 rows read, not 50 x 200; and the answer agrees with the in-RAM (exact) catalog's."""
    import shutil

    import pixseek.search.row_file as row_file

    copy = tmp_path / "db"
    shutil.copytree(db, copy)
    past_ram = Index(copy, settings=Settings(compressed_threshold=1000))
    past_ram.adapt()  # two folders, a and b
    assert past_ram.adapter() is not None and past_ram.adapter().method == "class-posterior"
    in_ram = Index(copy)
    read: list[int] = []
    real_read = row_file.RowFile.read

    def counting(self, rows):
        read.append(len(rows))
        return real_read(self, rows)

    past_ram.warm()
    monkeypatch.setattr(row_file.RowFile, "read", counting)
    agree = []
    for row_id in ["id00000", "id00777", "id01601"]:
        read.clear()
        got = [h.id for h in past_ram.search(like=row_id, k=10)]
        # the `like` row's vector, the pool's 201 (200 and the excluded `like` row) from the codes, and the
        # pool again for the adapter; a refine of 50 per hit would read 50 x 201
        assert read == [1, 201, 200]
        want = [h.id for h in in_ram.search(like=row_id, k=10)]
        agree.append(len(set(got) & set(want)) / 10)
    assert np.mean(agree) >= 0.9


def test_a_catalog_that_refuses_writes_builds_into_this_machines_ann_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A replica's read-only mount: the index is built once under PIXSEEK_ANN_CACHE, and the next process
    (every CLI search is one) loads it from there."""
    db = tmp_path / "db"
    catalog = Catalog.create(db, META)
    records = [ImageRecord(f"id{i:05d}", "/photos", f"a/{i}.jpg", 1, 1, "h", 1, 1, "a") for i in range(1100)]
    catalog.append(rows_table(records, _vectors(1100, 5), DIM))
    refuse_writes_in(monkeypatch, db)
    settings = Settings(compressed_threshold=1000, ann_cache=tmp_path / "cache")
    first = Index(db, settings=settings)
    hits = [h.id for h in first.search(like="id00001", k=5)]
    built = list((tmp_path / "cache").rglob("pq-v*.faiss"))
    assert len(built) == 1
    monkeypatch.setattr(CompressedIndex, "build", lambda *a, **k: pytest.fail("built again"))
    assert [h.id for h in Index(db, settings=settings).search(like="id00001", k=5)] == hits
