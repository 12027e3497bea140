"""Image serving details the end-to-end tests do not reach: the media type of a file whose extension
the interpreter's type table does not know (e.g. `.webp` before Python 3.11, with no /etc/mime.types)."""

from __future__ import annotations

import mimetypes

import pytest
from fastapi.testclient import TestClient


def test_an_unknown_type_is_served_as_octet_stream(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RFC 2046 section 4.5.1: application/octet-stream is the type of data nothing more is known of."""
    results = client.post("/search", data={"text": "anything", "k": 10}).json()["results"]
    url = next(h["image_url"] for h in results if h["path"] == "food/apple.png")
    monkeypatch.setattr(mimetypes, "guess_type", lambda *args, **kwargs: (None, None))
    r = client.get(url)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/octet-stream"
