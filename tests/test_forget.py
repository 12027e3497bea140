"""`pixseek forget` / `Index.forget`: a folder that is gone can still be dropped from the index; a user's
review found its rows searchable for ever, since `index` refuses a missing folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

import pixseek.models.registry as registry
from pixseek.cli import app
from pixseek.errors import FolderNotFoundError, IndexBusyError, NotInIndexError
from pixseek.services import Index
from pixseek.services.writing import write_lock_for
from pixseek.settings import Settings
from tests.fakes import FakeEmbedder
from tests.indexing.images import make_tree

KEPT = [f"cats/{i}.png" for i in range(5)]
GONE = [f"dogs/{i}.png" for i in range(7)]


@pytest.fixture
def two_roots(tmp_path: Path) -> tuple[Index, Path, Path]:
    kept, gone = tmp_path / "kept", tmp_path / "gone"
    make_tree(kept, KEPT)
    make_tree(gone, GONE, first_seed=50)
    index = Index(tmp_path / "db", embedder=FakeEmbedder(), settings=Settings(ann_threshold=4))
    index.add(kept, workers=0)
    index.add(gone, workers=0)
    return index, kept, gone


def test_a_deleted_folder_is_forgotten_and_nothing_else(two_roots: tuple[Index, Path, Path]) -> None:
    index, kept, gone = two_roots
    shutil.rmtree(gone)
    with pytest.raises(FolderNotFoundError, match=f"pixseek forget {gone}"):
        index.add(gone, workers=0)
    assert index.forget(gone) == len(GONE)
    assert index.info().images == len(KEPT)
    hits = index.search(like=f"{kept}/cats/0.png", k=20)  # past ann_threshold: through the ANN index
    assert {h.root for h in hits} == {str(kept)} and len(hits) == len(KEPT) - 1
    assert sorted(Index(index.db, embedder=FakeEmbedder()).arrays().paths) == KEPT  # another process too


def test_a_root_the_index_does_not_hold_names_those_it_does(two_roots: tuple[Index, Path, Path]) -> None:
    index, kept, gone = two_roots
    with pytest.raises(NotInIndexError, match=f"holds {gone}, {kept}"):  # sorted
        index.forget(kept / "cats")  # a subfolder is not an indexed root
    assert index.info().images == len(KEPT) + len(GONE)


def test_forgetting_waits_for_or_refuses_another_writer(two_roots: tuple[Index, Path, Path]) -> None:
    index, _, gone = two_roots
    with write_lock_for(index.db, 0.0), pytest.raises(IndexBusyError):
        index.forget(gone)
    assert index.info().images == len(KEPT) + len(GONE)


def test_the_cli_forgets_with_json_and_fails_with_one_line(
    two_roots: tuple[Index, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    index, kept, gone = two_roots
    monkeypatch.setattr(registry, "load_embedder", lambda name, *, settings: FakeEmbedder())
    runner = CliRunner()
    result = runner.invoke(app, ["forget", str(gone), "--db", str(index.db), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"root": str(gone), "removed": len(GONE)}
    again = runner.invoke(app, ["forget", str(gone), "--db", str(index.db), "--json"])
    assert again.exit_code == 1
    assert json.loads(again.stdout)["detail"]["type"] == "NotInIndexError"
    human = runner.invoke(app, ["forget", str(kept), "--db", str(index.db)])
    assert human.exit_code == 0 and f"forgot {len(KEPT)} images of {kept}" in human.stdout


def test_indexing_a_folder_inside_or_around_an_indexed_one_warns(
    two_roots: tuple[Index, Path, Path], caplog: pytest.LogCaptureFixture
) -> None:
    """Each image under both would be indexed twice, under each root; a sibling that merely shares a
    prefix of the name (`kept2` beside `kept`) is no overlap."""
    index, kept, _ = two_roots
    make_tree(kept.parent / "kept2", ["a/1.png"], first_seed=80)
    with caplog.at_level("WARNING"):
        index.add(kept.parent / "kept2", workers=0)
        assert "overlaps" not in caplog.text
        index.add(kept / "cats", workers=0)
    assert f"{kept / 'cats'} overlaps {kept}, which this index already holds" in caplog.text
    assert index.forget(kept / "cats") == len(KEPT)  # the doubled rows go again


def test_overlap_is_by_whole_path_segments() -> None:
    from pixseek.services.writing import overlapping_roots

    roots = ["/a/photos", "/a/photos2", "/b", "s3://bucket/set", "s3://bucket/set-old"]
    assert overlapping_roots("/a/photos/2024", roots) == ["/a/photos"]
    assert overlapping_roots("/a", roots) == ["/a/photos", "/a/photos2"]
    assert overlapping_roots("/a/photos", roots) == []
    assert overlapping_roots("s3://bucket", roots) == ["s3://bucket/set", "s3://bucket/set-old"]
    assert overlapping_roots("s3://bucket/set/sub", roots) == ["s3://bucket/set"]
