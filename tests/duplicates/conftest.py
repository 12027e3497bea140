"""A small collection with planted near-duplicates and look-alikes, indexed with the fake model."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pixseek.services import Index
from tests.duplicates.pictures import brighter, crop5, drawing, half, letter_i, letter_l, save_jpeg, save_png
from tests.fakes import FakeEmbedder
from tests.web.conftest import browser  # noqa: F401  (the page tests' chromium fixture)

# The planted truth, by relative path: each set is one picture and its edited copies.
PLANTED = [
    {"art/a.png", "edits/a-half.png", "edits/a-crop.png", "edits/a-q40.jpg", "copies/a.png"},
    {"art/b.png", "edits/b-bright.png", "edits/b.jpg"},
]
OTHERS = {"art/c.png", "art/d.png", "art/e.png", "letters/i.png", "letters/l.png"}


@pytest.fixture
def collection(tmp_path: Path) -> Path:
    root = tmp_path / "pictures"
    a, b = drawing(1), drawing(2)
    save_png(a, root / "art/a.png")
    save_png(half(a), root / "edits/a-half.png")
    save_png(crop5(a), root / "edits/a-crop.png")
    save_jpeg(a, root / "edits/a-q40.jpg", quality=40)
    save_png(b, root / "art/b.png")
    save_png(brighter(b), root / "edits/b-bright.png")
    save_jpeg(b, root / "edits/b.jpg", quality=90)
    for seed, name in [(3, "c"), (4, "d"), (5, "e")]:
        save_png(drawing(seed), root / f"art/{name}.png")
    save_png(letter_i(), root / "letters/i.png")
    save_png(letter_l(), root / "letters/l.png")
    (root / "copies").mkdir()
    shutil.copy(root / "art/a.png", root / "copies/a.png")  # same bytes: an exact copy
    return root


@pytest.fixture
def index(tmp_path: Path, collection: Path) -> Index:
    idx = Index(tmp_path / "db", embedder=FakeEmbedder())
    idx.add(collection, workers=0)
    return idx
