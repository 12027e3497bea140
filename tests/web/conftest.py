"""A small real index (fake model) and a TestClient over the app built for it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

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
