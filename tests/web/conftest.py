"""A small real index (fake model), a TestClient over the app built for it, and Debian's chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pixseek.services import Index
from pixseek.settings import Settings
from pixseek.web import create_app
from tests.fakes import FakeEmbedder
from tests.indexing.images import make_tree

PATHS = [
    "animals/cat.png",
    "animals/dog.png",
    "animals/birds/owl.jpg",
    "food/apple.png",
    "food/pear.jpg",
    "plants/tree.png",
]


@pytest.fixture
def photo_root(tmp_path: Path) -> Path:
    root = tmp_path / "photos"
    make_tree(root, PATHS)
    return root


@pytest.fixture
def web_settings(tmp_path: Path) -> Settings:
    return Settings(db=tmp_path / "index.db", max_upload_bytes=200_000, max_image_pixels=4_000_000, max_k=50)


@pytest.fixture
def web_index(photo_root: Path, web_settings: Settings) -> Iterator[Index]:
    index = Index(web_settings.db, settings=web_settings, embedder=FakeEmbedder())
    index.add(photo_root, workers=0)
    yield index
    index.close()


@pytest.fixture
def client(web_index: Index, web_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(web_settings, index=web_index)) as c:
        yield c


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()
