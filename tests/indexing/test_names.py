"""Hostile names: bytes that are not UTF-8 (reported per file, never fatal), 255-byte names, and a catalog
kept inside the folder it indexes."""

from __future__ import annotations

import os
from pathlib import Path

from pixseek.indexing.scan import scan
from pixseek.services import Index
from tests.fakes import FakeEmbedder
from tests.indexing.images import make_tree, write_image

NOT_UTF8 = "its name is not valid UTF-8, so it cannot be stored; rename it to index it"  # written out


def test_a_name_that_is_not_utf8_is_reported_and_the_rest_is_indexed(tmp_path: Path) -> None:
    folder = tmp_path / "imgs"
    make_tree(folder, ["a/ok.png"])
    write_image(folder / "tmp.png", seed=5)
    os.rename(bytes(folder / "tmp.png"), bytes(folder / "a") + b"/caf\xe9.png")  # noqa: PTH104 - Latin-1 bytes
    (folder / "tmp-dir").mkdir()
    write_image(folder / "tmp-dir/inside.png", seed=6)
    os.rename(bytes(folder / "tmp-dir"), bytes(folder) + b"/\xff-folder")  # noqa: PTH104 - not UTF-8
    report = Index(tmp_path / "x.db", embedder=FakeEmbedder()).add(folder, workers=0)
    assert report.added == 1
    assert sorted(report.failed, key=lambda f: f["path"]) == [
        {"path": f"{folder}/\\xff-folder", "error": NOT_UTF8},  # the folder once, not each file in it
        {"path": f"{folder}/a/caf\\xe9.png", "error": NOT_UTF8},
    ]


def test_a_255_byte_name_is_indexed(tmp_path: Path) -> None:
    name = "é" * 125 + "x.png"  # 250 + 5 = 255 bytes in UTF-8, the usual limit of one name
    assert len(name.encode()) == 255
    write_image(tmp_path / "imgs" / name, seed=1)
    index = Index(tmp_path / "x.db", embedder=FakeEmbedder())
    assert index.add(tmp_path / "imgs", workers=0).added == 1
    assert index.arrays().paths == [name]


def test_a_catalog_inside_the_folder_it_indexes_is_not_indexed_itself(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    make_tree(folder, ["a/1.png", "b/2.png"])
    index = Index(folder / "pixseek.db", embedder=FakeEmbedder())
    assert index.add(folder, workers=0).added == 2
    again = index.add(folder, workers=0)  # the catalog's own files appeared meanwhile: nothing changes
    assert (again.added, again.unchanged, again.failed) == (0, 2, [])
    assert [f.path for f in scan(folder).files] == ["a/1.png", "b/2.png"]
