"""Serving an indexed file: caching headers, and a 409 naming the file when it changed after indexing."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from fastapi.testclient import TestClient


def _hit(client: TestClient, path: str) -> dict:
    results = client.post("/search", data={"text": "anything", "k": 10}).json()["results"]
    return next(h for h in results if h["path"] == path)


def test_an_image_carries_its_cache_headers(client: TestClient, photo_root: Path) -> None:
    """Browsers may keep it an hour; the ETag is the file's BLAKE2b-128, so a change is a new tag."""
    r = client.get(_hit(client, "food/apple.png")["image_url"])
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    digest = hashlib.blake2b((photo_root / "food/apple.png").read_bytes(), digest_size=16).hexdigest()
    assert r.headers["cache-control"] == "private, max-age=3600"
    assert r.headers["etag"] == f'"{digest}"'


def _changed(r) -> None:
    assert r.status_code == 409, r.text
    assert r.json()["error"] == "'food/apple.png' changed since it was indexed; re-run pixseek index"


def test_a_file_grown_with_its_old_mtime_is_refused(client: TestClient, photo_root: Path) -> None:
    """Size alone differing is enough: the mtime may have been put back (cp -p, a sync tool)."""
    url = _hit(client, "food/apple.png")["image_url"]
    path = photo_root / "food/apple.png"
    before = path.stat()
    with path.open("ab") as fh:
        fh.write(b"\0")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    _changed(client.get(url))
    _changed(client.get("/image", params={"path": "food/apple.png"}))


def test_a_file_touched_to_a_new_mtime_is_refused(client: TestClient, photo_root: Path) -> None:
    """Same size, new mtime: it may be other bytes of the same length."""
    url = _hit(client, "food/apple.png")["image_url"]
    path = photo_root / "food/apple.png"
    before = path.stat()
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000_000))
    _changed(client.get(url))
