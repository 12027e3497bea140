"""pixseek.Index: the facade contract used by the CLI, the web app and evaluation."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import pixseek
from pixseek.errors import (
    CatalogError,
    FolderNotFoundError,
    ModelMismatchError,
    QueryError,
    TextNotSupportedError,
)
from pixseek.services import Index, IndexArrays, IndexInfo, SearchFilter
from pixseek.settings import Settings
from tests.fakes import FakeEmbedder, fake_index
from tests.indexing.images import make_tree

PATHS = [f"{label}/{i}.png" for label in ("cats", "dogs", "owls") for i in range(6)]
PATHS += ["dogs/sub/x.jpg", "top.png"]
OWLS_0_TO_2 = {"owls/0.png", "owls/1.png", "owls/2.png"}


@pytest.fixture
def index(tmp_path: Path) -> Index:
    return fake_index(tmp_path, PATHS)


def _brute(index: Index, query: np.ndarray, k: int, keep=lambda p, lab: True) -> list[str]:
    arrays = index.arrays()
    scores = arrays.vectors @ query
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    return [arrays.ids[i] for i in order if keep(arrays.paths[i], arrays.labels[i])][:k]


def test_package_exports_index() -> None:
    assert pixseek.Index is Index


def test_like_search_equals_brute_force_and_excludes_itself(index: Index) -> None:
    target = index.get("cats/2.png")
    hits = index.search(like=target.id, k=5)
    query = index.arrays().vectors[index.arrays().ids.index(target.id)]
    expected = [i for i in _brute(index, query, 6) if i != target.id][:5]
    assert [h.id for h in hits] == expected
    assert all(h.root and h.path and h.label for h in hits if h.path != "top.png")
    assert [h.id for h in index.search(like="cats/2.png", k=5)] == expected  # by indexed path too
    assert [h.id for h in index.search(like=str(target.absolute_path), k=5)] == expected


def test_image_and_text_queries(index: Index, tmp_path: Path) -> None:
    query_file = tmp_path / "imgs" / "owls/3.png"
    hits = index.search(image=query_file, k=3)
    assert hits[0].path == "owls/3.png" and hits[0].score == pytest.approx(1.0, abs=2e-3)
    pil_hits = index.search(image=Image.open(query_file), k=3)
    assert [h.id for h in pil_hits] == [h.id for h in hits]
    text_hits = index.search(text="a cat", k=4)
    q = FakeEmbedder().embed_texts(["a cat"])[0]
    assert [h.id for h in text_hits] == _brute(index, q, 4)


def test_query_algebra(index: Index, tmp_path: Path) -> None:
    emb = FakeEmbedder()
    a, b = emb.embed_texts(["beach"])[0], emb.embed_texts(["people"])[0]
    expected = (2 * a - b) / np.linalg.norm(2 * a - b)
    got = index.query_vector(text=[("beach", 2.0)], minus_text="people")
    np.testing.assert_allclose(got, expected, atol=1e-6)
    hits = index.search(text=("beach", 2.0), minus_text="people", k=5)
    assert [h.id for h in hits] == _brute(index, got, 5)
    two = index.query_vector(image=[tmp_path / "imgs/cats/0.png", tmp_path / "imgs/dogs/0.png"])
    v = emb.embed_images([tmp_path / "imgs/cats/0.png", tmp_path / "imgs/dogs/0.png"]).sum(axis=0)
    np.testing.assert_allclose(two, v / np.linalg.norm(v), atol=1e-6)
    mixed = index.search(like="cats/1.png", minus_like=["dogs/1.png", "owls/1.png"], k=3)
    assert all(h.path != "cats/1.png" for h in mixed)


def test_filters(index: Index) -> None:
    q = FakeEmbedder().embed_texts(["dog"])[0]
    cases = [
        (SearchFilter(label="dogs"), lambda p, lab: lab == "dogs"),
        (SearchFilter(folder="dogs/sub"), lambda p, lab: p.startswith("dogs/sub/")),
        (SearchFilter(path_glob="*.jpg"), lambda p, lab: p.endswith(".jpg")),
        (SearchFilter(label="owls", path_glob="owls/[0-2].png"), lambda p, lab: p in OWLS_0_TO_2),
    ]
    for flt, keep in cases:
        hits = index.search_vectors(q[None, :], k=4, filters=flt)[0]
        assert [h.id for h in hits] == _brute(index, q, 4, keep)
    assert index.search(text="dog", filters=SearchFilter(label="nope")) == []


def test_search_vectors_is_batched_and_honours_exclusions(index: Index) -> None:
    arrays = index.arrays()
    results = index.search_vectors(arrays.vectors[:3], k=2, exclude_ids=[arrays.ids[0]])
    assert len(results) == 3
    assert all(arrays.ids[0] not in [h.id for h in r] for r in results)
    assert results[1][0].id == arrays.ids[1]


def test_ann_matches_exact_on_a_small_index(index: Index) -> None:
    arrays = index.arrays()
    exact = index.search_vectors(arrays.vectors[:5], k=3, ann=False)
    approx = index.search_vectors(arrays.vectors[:5], k=3, ann=True)
    assert [h.id for r in approx for h in r[:1]] == [h.id for r in exact for h in r[:1]]
    assert list(index.db.glob("ann-v*.faiss"))  # stored beside the catalog


def test_an_unreadable_saved_ann_index_is_built_again_not_a_failed_search(
    index: Index, caplog: pytest.LogCaptureFixture
) -> None:
    """A cut-off ann-v*.faiss (a disk error, a copy interrupted) made every ANN search raise FAISS's
    RuntimeError; it is a cache, so it is rebuilt and saved over, with a warning."""
    arrays = index.arrays()
    before = index.search_vectors(arrays.vectors[:5], k=3, ann=True)
    (saved,) = index.db.glob("ann-v*.faiss")
    whole = saved.read_bytes()
    saved.write_bytes(whole[: len(whole) // 3])
    again = Index(index.db, embedder=FakeEmbedder())
    with caplog.at_level(logging.WARNING):
        after = again.search_vectors(arrays.vectors[:5], k=3, ann=True)
    assert [[h.id for h in r] for r in after] == [[h.id for h in r] for r in before]
    assert any("cannot read the saved ANN index" in r.getMessage() for r in caplog.records)
    assert len(saved.read_bytes()) == len(whole)  # saved over, whole
    saved.write_bytes(b"not an index at all")
    assert [
        h.id
        for h in Index(index.db, embedder=FakeEmbedder()).search_vectors(arrays.vectors[:1], k=3, ann=True)[0]
    ] == [h.id for h in before[0]]


def test_a_saved_ann_index_damaged_in_place_is_caught_by_its_digest_and_built_again(
    index: Index, caplog: pytest.LogCaptureFixture
) -> None:
    """Bytes changed inside the file, its size and structure intact: FAISS reads it and answers from the
    damaged lists. The CRC-32 written beside it (ann-v*.faiss.crc32) no longer matches, so it is rebuilt:
    the same bytes as the first build (seeded), and the same answers."""
    arrays = index.arrays()
    before = index.search_vectors(arrays.vectors[:5], k=3, ann=True)
    (saved,) = index.db.glob("ann-v*.faiss")
    assert (index.db / f"{saved.name}.crc32").is_file()
    whole = saved.read_bytes()
    damaged = bytearray(whole)
    middle = len(damaged) // 2
    damaged[middle : middle + 64] = bytes((b + 1) % 256 for b in damaged[middle : middle + 64])
    saved.write_bytes(bytes(damaged))
    with caplog.at_level(logging.WARNING):
        after = Index(index.db, embedder=FakeEmbedder()).search_vectors(arrays.vectors[:5], k=3, ann=True)
    assert any("do not match the digest" in r.getMessage() for r in caplog.records)
    assert saved.read_bytes() == whole
    assert [[h.id for h in r] for r in after] == [[h.id for h in r] for r in before]


def test_ann_switches_on_above_the_threshold_and_is_rebuilt_when_stale(tmp_path: Path) -> None:
    make_tree(tmp_path / "imgs", PATHS)
    settings = Settings(ann_threshold=5, ann_delta_limit=0)  # no delta allowed: every change rebuilds
    idx = Index(tmp_path / "db", embedder=FakeEmbedder(), settings=settings)
    idx.add(tmp_path / "imgs", workers=0)
    first = list((tmp_path / "db").glob("ann-v*.faiss"))
    assert len(first) == 1  # built right after the run
    (tmp_path / "imgs/top.png").unlink()
    idx.add(tmp_path / "imgs", workers=0)
    second = list((tmp_path / "db").glob("ann-v*.faiss"))
    assert len(second) == 1 and second != first
    assert len(idx.search(text="cat", k=50)) == len(PATHS) - 1


def test_info_labels_arrays_get(index: Index) -> None:
    info = index.info()
    assert isinstance(info, IndexInfo)
    assert (info.images, info.model, info.dim) == (len(PATHS), "fake", 32)
    assert info.bytes_on_disk > 0 and info.last_indexed and info.last_indexed.endswith("+00:00")
    assert set(info.to_dict()) == {"images", "model", "dim", "bytes_on_disk", "last_indexed", "adapter"}
    assert index.labels() == ["cats", "dogs", "owls"]
    arrays = index.arrays()
    assert isinstance(arrays, IndexArrays) and arrays.vectors.dtype == np.float32
    assert arrays.vectors.shape == (len(PATHS), 32)
    rec = index.get("dogs/sub/x.jpg")
    assert rec.label == "dogs" and rec.absolute_path.is_file() and rec.width == 24 and rec.height == 16
    assert index.get(rec.id) == rec


def test_arrays_of_one_root(index: Index, tmp_path: Path) -> None:
    make_tree(tmp_path / "more", ["birds/1.png", "birds/2.png"])
    index.add(tmp_path / "more", workers=0)
    assert len(index.arrays().ids) == len(PATHS) + 2
    mine = index.arrays(root=tmp_path / "more")
    assert sorted(mine.paths) == ["birds/1.png", "birds/2.png"] and mine.vectors.shape == (2, 32)
    assert len(index.arrays(root=tmp_path / "imgs").ids) == len(PATHS)


def test_refresh_picks_up_another_writer(index: Index, tmp_path: Path) -> None:
    assert index.refresh() is True  # the first call loads the matrix
    assert index.refresh() is False  # nothing changed since
    other = Index(index.db, embedder=FakeEmbedder())
    make_tree(tmp_path / "imgs", ["new/one.png"], first_seed=100)
    other.add(tmp_path / "imgs", workers=0)
    assert "new/one.png" in [h.path for h in index.search(text="x", k=len(PATHS) + 1)]
    assert index.refresh() is False


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "at least one positive"),
        ({"like": "no/such.png"}, "neither an id nor an indexed path"),
        ({"text": "x", "k": 0}, "k must be"),
        ({"text": "x", "k": 10_000}, "k must be"),
        ({"text": "x", "k": 2.5}, "k must be"),
        ({"text": 5}, "text terms must be strings"),
        ({"text": ("x", -1.0)}, "positive numbers"),
        ({"text": "x", "minus_text": "x"}, "cancel"),
    ],
)
def test_bad_queries(index: Index, kwargs: dict, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        index.search(**kwargs)


def test_bad_vectors(index: Index) -> None:
    with pytest.raises(QueryError, match="dim"):
        index.search_vectors(np.ones((1, 7), np.float32))


def test_text_on_an_image_only_model(tmp_path: Path) -> None:
    make_tree(tmp_path / "imgs", ["a/1.png"])
    idx = Index(tmp_path / "db", embedder=FakeEmbedder(has_text=False))
    idx.add(tmp_path / "imgs", workers=0)
    with pytest.raises(TextNotSupportedError):
        idx.search(text="cat")


def test_other_model_is_refused_and_nothing_written(index: Index) -> None:
    before = sorted(p.name for p in index.db.rglob("*"))
    with pytest.raises(ModelMismatchError, match="built with model 'fake'"):
        Index(index.db, embedder=FakeEmbedder(dim=16, name="other"))
    assert sorted(p.name for p in index.db.rglob("*")) == before


def test_bad_paths_write_nothing(tmp_path: Path) -> None:
    make_tree(tmp_path / "imgs", ["a/1.png"])
    a_file = tmp_path / "file.db"
    a_file.write_bytes(b"keep me")
    with pytest.raises(CatalogError, match="is a file"):
        Index(a_file, embedder=FakeEmbedder())
    assert a_file.read_bytes() == b"keep me"
    idx = Index(tmp_path / "new.db", embedder=FakeEmbedder())
    with pytest.raises(FolderNotFoundError, match="no such folder"):
        idx.add(tmp_path / "missing")
    with pytest.raises(FolderNotFoundError):
        idx.add(tmp_path / "imgs/a/1.png")  # a file, not a folder
    assert not (tmp_path / "new.db").exists()
    with pytest.raises(CatalogError, match="no pixseek index"):
        idx.search(text="x")
    with pytest.raises(CatalogError, match="no pixseek index"):
        idx.info()


def test_a_folder_of_other_files_is_not_taken_over(tmp_path: Path) -> None:
    make_tree(tmp_path / "imgs", ["a/1.png"])
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos/holiday.jpg").write_bytes(b"precious")
    with pytest.raises(CatalogError, match="not a pixseek index"):
        Index(tmp_path / "photos", embedder=FakeEmbedder()).add(tmp_path / "imgs")
    assert [p.name for p in (tmp_path / "photos").iterdir()] == ["holiday.jpg"]


def test_context_manager(tmp_path: Path) -> None:
    make_tree(tmp_path / "imgs", ["a/1.png"])
    with Index(tmp_path / "db", embedder=FakeEmbedder()) as idx:
        assert idx.add(tmp_path / "imgs", workers=0).added == 1


def test_concurrent_searches_share_one_load(index: Index) -> None:
    from concurrent.futures import ThreadPoolExecutor

    index.close()
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: [h.id for h in index.search(text="cat", k=3)], range(8)))
    assert all(r == results[0] for r in results)


def test_an_empty_index_searches_to_nothing(tmp_path: Path) -> None:
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs/broken.png").write_bytes(b"x")
    idx = Index(tmp_path / "db", embedder=FakeEmbedder())
    report = idx.add(tmp_path / "imgs", workers=0)
    assert report.added == 0 and len(report.failed) == 1
    assert idx.search(text="cat") == [] and idx.labels() == [] and idx.info().images == 0
    assert idx.arrays().vectors.shape == (0, 32)


def test_an_older_schema_gets_a_clear_message(index: Index) -> None:
    from dataclasses import replace

    from pixseek.catalog import Catalog
    from pixseek.errors import SchemaVersionError

    catalog = Catalog.open(index.db)
    catalog.set_meta(replace(catalog.meta, schema_version=0))
    old = Index(index.db, embedder=FakeEmbedder())
    with pytest.raises(SchemaVersionError, match="schema version 0"):
        old.search(text="cat")
    with pytest.raises(SchemaVersionError, match="cannot be migrated"):
        old.add(index.db.parent / "imgs")  # no ladder step from 0: explained, nothing rewritten


def test_a_query_record_searches_exactly_as_its_keywords(index: Index, tmp_path: Path) -> None:
    from pixseek import Query

    keywords = {"text": ("beach", 2.0), "minus_text": "people", "like": "cats/1.png"}
    by_record = index.search(Query.of(**keywords), k=5)
    assert [h.id for h in by_record] == [h.id for h in index.search(k=5, **keywords)]
    assert all(h.path != "cats/1.png" for h in by_record)  # the like's own row is left out either way
    np.testing.assert_array_equal(
        index.query_vector(Query.of(text="beach")), index.query_vector(text="beach")
    )
    marked = Query.of(positive=["cats/0.png"], negative=["dogs/0.png"])
    assert [h.id for h in index.search(marked, k=3)] == [
        h.id for h in index.search(positive=["cats/0.png"], negative=["dogs/0.png"], k=3)
    ]
    with pytest.raises(QueryError, match="not both"):
        index.search(Query.of(text="beach"), text="sea")
    with pytest.raises(QueryError, match="unexpected keyword argument 'txt'"):
        index.search(txt="beach")
