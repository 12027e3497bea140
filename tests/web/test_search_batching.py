"""POST /search sends concurrent image uploads through the app's EmbedBatcher: one model call, not N."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pytest
from fastapi.testclient import TestClient

from pixseek.services import Index
from pixseek.settings import Settings
from pixseek.types import LoadedImage
from pixseek.web import create_app
from tests.fakes import FakeEmbedder, FakeLoader
from tests.web.conftest import PATHS

UPLOADS = len(PATHS)


class _CountingLoader:
    """The fake loader, telling the embedder once every upload of the burst has been decoded."""

    def __init__(self, inner: FakeLoader, embedder: GatedEmbedder) -> None:
        self._inner = inner
        self._embedder = embedder

    def __call__(self, source: Path | BinaryIO) -> LoadedImage:
        loaded = self._inner(source)
        self._embedder.decoded()
        return loaded


class GatedEmbedder(FakeEmbedder):
    """Records each embed_pixels batch size once armed; the first armed call holds the model until
    every upload is decoded, so the others must queue behind it (as under real load)."""

    def __init__(self) -> None:
        super().__init__()
        self.armed = False
        self.batch_sizes: list[int] = []
        self.all_decoded = threading.Event()
        self._lock = threading.Lock()
        self._decoded = 0

    def image_loader(self) -> _CountingLoader:  # type: ignore[override]
        return _CountingLoader(super().image_loader(), self)

    def decoded(self) -> None:
        with self._lock:
            if self.armed:
                self._decoded += 1
            if self._decoded >= UPLOADS:
                self.all_decoded.set()

    def embed_pixels(self, pixels: np.ndarray) -> np.ndarray:
        if self.armed:
            with self._lock:
                first = not self.batch_sizes
                self.batch_sizes.append(len(pixels))
            if first:
                # Bounded: a /search that bypasses the batcher blocks the event loop here, and the
                # test must then fail on the batch sizes rather than hang.
                self.all_decoded.wait(timeout=15)
                time.sleep(0.3)  # decoded uploads reach the batcher's queue on the event loop
        return super().embed_pixels(pixels)


@pytest.fixture
def gated() -> GatedEmbedder:
    return GatedEmbedder()


@pytest.fixture
def gated_client(photo_root: Path, web_settings: Settings, gated: GatedEmbedder) -> Iterator[TestClient]:
    index = Index(web_settings.db, settings=web_settings, embedder=gated)
    index.add(photo_root, workers=0)
    with TestClient(create_app(web_settings, index=index)) as client:
        yield client
    index.close()


def test_concurrent_uploads_share_embed_pixels_calls(
    gated_client: TestClient, gated: GatedEmbedder, photo_root: Path
) -> None:
    gated.armed = True

    def search(rel: str) -> str:
        data = (photo_root / rel).read_bytes()
        r = gated_client.post("/search", files={"image": (Path(rel).name, data)}, data={"k": 1})
        assert r.status_code == 200, r.text
        return r.json()["results"][0]["path"]

    with ThreadPoolExecutor(UPLOADS) as pool:
        tops = list(pool.map(search, PATHS))

    assert tops == PATHS  # each request got its own row of the batch back
    assert sum(gated.batch_sizes) == UPLOADS
    # Without the batcher every upload is its own call: [1, 1, 1, 1, 1, 1].
    assert len(gated.batch_sizes) < UPLOADS, gated.batch_sizes
    assert max(gated.batch_sizes) > 1, gated.batch_sizes
