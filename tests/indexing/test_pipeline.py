"""Incremental indexing end to end through pixseek.Index, with the fast fake model."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from pixseek.services import Index
from pixseek.types import LoadedImage
from tests.fakes import FakeEmbedder, FakeLoader
from tests.indexing.images import make_tree, write_image


@dataclass
class CountingLoader:
    """Records every decode (in-process runs only)."""

    seen: list[str] = field(default_factory=list)

    def __call__(self, path: Path) -> LoadedImage:
        self.seen.append(Path(path).name)
        return FakeLoader()(path)


class CountingEmbedder(FakeEmbedder):
    def __init__(self) -> None:
        super().__init__()
        self.loader = CountingLoader()

    def image_loader(self) -> CountingLoader:
        return self.loader


def _paths(index: Index) -> set[str]:
    return set(index.arrays().paths)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "photos"
    make_tree(root, ["cats/a.png", "cats/b.jpg", "dogs/c.png", "dogs/d.png", "e.png"])
    return root


def test_incremental_add_change_delete_rename_copy(tmp_path: Path, tree: Path) -> None:
    emb = CountingEmbedder()
    index = Index(tmp_path / "db", embedder=emb)
    first = index.add(tree, workers=0)
    assert (first.added, first.updated, first.renamed, first.removed, first.unchanged) == (5, 0, 0, 0, 0)
    assert first.failed == [] and first.images_per_second > 0
    assert _paths(index) == {"cats/a.png", "cats/b.jpg", "dogs/c.png", "dogs/d.png", "e.png"}
    ids_before = dict(zip(index.arrays().paths, index.arrays().ids, strict=True))

    emb.loader.seen.clear()
    again = index.add(tree, workers=0)
    assert (again.added, again.updated, again.removed, again.unchanged) == (0, 0, 0, 5)
    assert emb.loader.seen == []  # unchanged files are not even decoded

    write_image(tree / "dogs/c.png", 999)  # changed content
    os.utime(tree / "dogs/c.png", ns=(1, 1))
    (tree / "dogs/d.png").unlink()  # deleted
    (tree / "birds").mkdir()
    (tree / "cats/a.png").rename(tree / "birds/a-moved.png")  # moved
    shutil.copy2(tree / "e.png", tree / "e-copy.png")  # copy of indexed content
    write_image(tree / "new1.png", 500)
    shutil.copy2(tree / "new1.png", tree / "new2.png")  # two identical new files
    os.utime(tree / "cats/b.jpg", ns=(5, 5))  # touched: same bytes, new mtime
    emb.loader.seen.clear()
    calls_before = emb.pixel_calls
    third = index.add(tree, workers=0)
    assert (third.added, third.updated, third.renamed, third.removed, third.unchanged) == (3, 1, 1, 1, 2)
    assert sorted(emb.loader.seen) == ["c.png", "new1.png"]  # the copies and the rename are not decoded
    assert emb.pixel_calls - calls_before == 2
    arrays = index.arrays()
    by_path = dict(zip(arrays.paths, range(len(arrays.paths)), strict=True))
    assert set(by_path) == {"birds/a-moved.png", "cats/b.jpg", "dogs/c.png", "e.png", "e-copy.png"} | {
        "new1.png",
        "new2.png",
    }
    assert arrays.ids[by_path["birds/a-moved.png"]] == ids_before["cats/a.png"]  # the row kept its id
    assert arrays.ids[by_path["dogs/c.png"]] == ids_before["dogs/c.png"]
    assert arrays.labels[by_path["birds/a-moved.png"]] == "birds"
    np.testing.assert_array_equal(arrays.vectors[by_path["e.png"]], arrays.vectors[by_path["e-copy.png"]])
    np.testing.assert_array_equal(arrays.vectors[by_path["new1.png"]], arrays.vectors[by_path["new2.png"]])
    assert len(set(arrays.ids)) == len(arrays.ids)


def test_vectors_match_the_model(tmp_path: Path, tree: Path) -> None:
    emb = FakeEmbedder()
    index = Index(tmp_path / "db", embedder=emb)
    index.add(tree, workers=0)
    arrays = index.arrays()
    direct = emb.embed_images([tree / p for p in arrays.paths])
    np.testing.assert_allclose(arrays.vectors, direct, atol=2e-3)  # float16 storage


def test_unreadable_files_are_reported_and_retried(tmp_path: Path, tree: Path) -> None:
    (tree / "broken.png").write_bytes(b"this is not a png")
    (tree / "empty.jpg").write_bytes(b"")
    index = Index(tmp_path / "db", embedder=FakeEmbedder())
    report = index.add(tree, workers=0)
    assert report.added == 5
    failed = {Path(f["path"]).name: f["error"] for f in report.failed}
    assert set(failed) == {"broken.png", "empty.jpg"}
    assert "not an image" in failed["broken.png"] and "empty" in failed["empty.jpg"]
    write_image(tree / "broken.png", 7)  # fixed by the user
    again = index.add(tree, workers=0)
    assert again.added == 1 and [Path(f["path"]).name for f in again.failed] == ["empty.jpg"]


def test_worker_processes_give_the_same_vectors(tmp_path: Path) -> None:
    root = tmp_path / "many"
    make_tree(root, [f"c{i % 3}/{i}.png" for i in range(40)])  # above MIN_FILES_FOR_WORKERS
    a = Index(tmp_path / "a", embedder=FakeEmbedder())
    b = Index(tmp_path / "b", embedder=FakeEmbedder())
    assert a.add(root, workers=0).added == 40
    assert b.add(root, workers=2, batch_size=8).added == 40
    va, vb = a.arrays(), b.arrays()
    order = [vb.paths.index(p) for p in va.paths]
    np.testing.assert_array_equal(va.vectors, vb.vectors[order])


def test_two_roots_share_one_index(tmp_path: Path) -> None:
    make_tree(tmp_path / "one", ["x/a.png", "x/b.png"])
    make_tree(tmp_path / "two", ["y/c.png"], first_seed=10)
    index = Index(tmp_path / "db", embedder=FakeEmbedder())
    index.add(tmp_path / "one", workers=0)
    index.add(tmp_path / "two", workers=0)
    (tmp_path / "one/x/a.png").unlink()
    report = index.add(tmp_path / "one", workers=0)
    assert report.removed == 1 and report.unchanged == 1
    assert _paths(index) == {"x/b.png", "y/c.png"}


def test_progress_is_reported(tmp_path: Path, tree: Path) -> None:
    seen: list[tuple[int, int]] = []
    Index(tmp_path / "db", embedder=FakeEmbedder()).add(
        tree, workers=0, batch_size=2, progress=lambda d, t: seen.append((d, t))
    )
    assert seen[0] == (0, 5) and seen[-1] == (5, 5)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_a_compaction_that_fails_after_the_commit_warns_and_the_run_succeeds(
    tmp_path: Path, tree: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A disk that fills up during the tidy-up after the last commit: the rows are all there, so the run
    reports them (it used to exit 1 with "No space left on device"); a lost lease still stops it."""
    from pixseek.catalog import Catalog
    from pixseek.errors import IndexBusyError, StorageError

    def disk_full(self: Catalog, *, images: bool = True) -> None:
        raise StorageError(f"cannot write the index at {self.path}: No space left on device")

    monkeypatch.setattr(Catalog, "compact", disk_full)
    index = Index(tmp_path / "db", embedder=FakeEmbedder())
    with caplog.at_level("WARNING"):
        assert index.add(tree, workers=0).added == 5
    assert "compacting the index failed" in caplog.text and "No space left" in caplog.text
    assert _paths(Index(tmp_path / "db", embedder=FakeEmbedder())) == {
        "cats/a.png", "cats/b.jpg", "dogs/c.png", "dogs/d.png", "e.png"
    }  # fmt: skip

    def lease_lost(self: Catalog, *, images: bool = True) -> None:
        raise IndexBusyError("this run lost its write lease")

    monkeypatch.setattr(Catalog, "compact", lease_lost)
    write_image(tree / "new.png", 99)
    with pytest.raises(IndexBusyError):
        index.add(tree, workers=0)
