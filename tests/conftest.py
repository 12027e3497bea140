"""Shared fixtures."""

from __future__ import annotations

import pytest

from tests.fakes import FakeEmbedder
from tests.s3_server import s3_server  # noqa: F401 - session fixture: a local S3 (moto_server)


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()
