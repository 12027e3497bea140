"""The catalog's store stops answering under a running server (seen with an S3 catalog whose server went
away): /health stays 200 from memory, so a liveness probe does not restart a healthy replica, and routes
that read the catalog answer 502 with the JSON error shape, not a plain-text 500."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from pixseek.catalog import Catalog
from pixseek.errors import StorageError

CAUSE = "Generic S3 error: error sending request: connection refused"


class _GoneTable:
    """A Lance table whose store no longer answers: every call fails as Lance's did."""

    def __getattr__(self, name: str) -> Any:
        def fail(*args: Any, **kwargs: Any) -> Any:
            raise OSError(CAUSE)

        return fail


def test_health_answers_from_memory_and_reads_are_502(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok", "images": 6, "model": "fake"}
    state = client.app.state.pixseek  # type: ignore[attr-defined]
    state.index._served.opened._images = _GoneTable()
    health = client.get("/health")
    assert health.status_code == 200 and health.json() == {"status": "ok", "images": 6, "model": "fake"}
    info = client.get("/info")
    assert info.status_code == 502, info.text
    assert info.json()["error"] == f"cannot read the index at {state.index.db}: {CAUSE}"
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/info", "/ready", "/search", "/duplicates"):  # each reads the catalog when a check is due
        operation = paths[path].get("get") or paths[path]["post"]
        assert "502" in operation["responses"], path


def test_a_read_that_keeps_failing_is_a_storage_error_after_its_retries(tmp_path: Any) -> None:
    from pixseek.services import Index
    from tests.fakes import FakeEmbedder
    from tests.indexing.images import make_tree

    make_tree(tmp_path / "imgs", ["a/x.png"])
    Index(tmp_path / "db", embedder=FakeEmbedder()).add(tmp_path / "imgs", workers=0)
    catalog = Catalog.open(tmp_path / "db")
    catalog._images = _GoneTable()
    with pytest.raises(StorageError, match=rf"cannot read the index at .*db: {CAUSE}"):
        catalog.count()
