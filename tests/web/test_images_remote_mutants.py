"""Serving rows indexed from an object store, without a store: the index lookup answers with an s3:// row
and the app's source for that root is an in-memory stand-in that behaves like ObjectStoreSource (gone:
FileNotFoundError, size or mtime differ: SourceChangedError). The routes, status codes and messages are
the real ones; the moto-backed end-to-end version is tests/web/test_object_store_images.py (slower)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from pixseek.catalog.schema import ImageRecord
from pixseek.errors import SourceChangedError

ROOT = "s3://bucket/pics"
MTIME = 1_700_000_000_123_456_789


def _png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 40)).save(out, format="PNG")
    return out.getvalue()


class _Store:
    """Objects by key; records every call, so a test can count what a request cost."""

    def __init__(self, objects: dict[str, bytes]) -> None:
        self.objects = objects
        self.calls: list[str] = []
        self.fail: OSError | None = None

    def _check(self, path: str, size: int, mtime_ns: int) -> None:
        if self.fail is not None:
            raise self.fail
        if path not in self.objects:
            raise FileNotFoundError(f"{ROOT}/{path}")
        if size != len(self.objects[path]) or mtime_ns != MTIME:
            raise SourceChangedError(f"{ROOT}/{path} changed since it was indexed")

    def check_unchanged(self, path: str, *, size: int, mtime_ns: int) -> None:
        self.calls.append("check_unchanged")
        self._check(path, size, mtime_ns)

    def read_if_unchanged(self, path: str, *, size: int, mtime_ns: int) -> bytes:
        self.calls.append("read_if_unchanged")
        self._check(path, size, mtime_ns)
        return self.objects[path]

    def read(self, path: str) -> bytes:
        self.calls.append("read")
        return self.objects[path]


def _record(root: str, path: str, data: bytes, *, mtime_ns: int = MTIME) -> ImageRecord:
    return ImageRecord(
        id="0123456789abcdef",
        root=root,
        path=path,
        size=len(data),
        mtime_ns=mtime_ns,
        content_hash="c0ffee",
        width=1,
        height=1,
        label=path.partition("/")[0],
    )


@pytest.fixture
def remote(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> tuple[TestClient, _Store, ImageRecord]:
    data = _png(640, 400)
    store = _Store({"a/one.png": data})
    record = _record(ROOT, "a/one.png", data)
    monkeypatch.setattr("pixseek.web.routes.images.find_record", lambda _index, _key: record)
    client.app.state.pixseek.object_sources[ROOT] = store  # type: ignore[attr-defined]
    return client, store, record


def test_an_object_is_served_byte_for_byte_with_its_headers(remote) -> None:
    client, store, record = remote
    r = client.get(f"/image/{record.id}")
    assert r.status_code == 200, r.text
    assert r.content == store.objects["a/one.png"]
    assert r.headers["content-type"] == "image/png"
    assert r.headers["cache-control"] == "private, max-age=3600"
    assert r.headers["etag"] == '"c0ffee"'
    assert store.calls == ["read_if_unchanged"]  # checked and read in one go


def test_by_path_the_object_answers_to_its_relative_path_and_its_full_uri(remote) -> None:
    client, store, _ = remote
    for path in ("a/one.png", "s3://bucket/pics/a/one.png"):
        r = client.get("/image", params={"path": path})
        assert r.status_code == 200 and r.content == store.objects["a/one.png"], path
    r = client.get("/image", params={"path": "s3:/bucket/pics/a/one.png"})  # what Path() would make of it
    assert r.status_code == 404


@pytest.mark.parametrize(
    ("fail", "status", "error"),
    [
        (
            "gone",
            404,
            "'s3://bucket/pics/a/one.png' is indexed but no longer in the store; re-run pixseek index",
        ),
        ("changed", 409, "'s3://bucket/pics/a/one.png' changed since it was indexed; re-run pixseek index"),
        ("down", 502, "cannot read 's3://bucket/pics/a/one.png' from the object store: connection reset"),
    ],
)
def test_a_missing_changed_or_unreachable_object_is_refused_by_name(
    remote, fail: str, status: int, error: str
) -> None:
    client, store, record = remote
    if fail == "gone":
        del store.objects["a/one.png"]
    elif fail == "changed":
        store.objects["a/one.png"] += b"\0"
    else:
        store.fail = ConnectionResetError("connection reset")
    for url in (f"/image/{record.id}", f"/thumbnail/{record.id}"):
        r = client.get(url)
        assert (r.status_code, r.json()) == (status, {"error": error, "detail": None}), url


def test_a_thumbnail_checks_the_object_without_reading_it_then_reads_it_once(remote) -> None:
    """The check is one metadata request (no bytes); the thumbnail is made from one read, then cached."""
    client, store, record = remote
    r = client.get(f"/thumbnail/{record.id}")
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    assert r.headers["etag"] == '"c0ffee-t"'
    assert Image.open(io.BytesIO(r.content)).size == (320, 200)  # 640x400 at most 320 a side
    assert store.calls == ["check_unchanged", "read"]
    assert client.get(f"/thumbnail/{record.id}").content == r.content
    assert store.calls == ["check_unchanged", "read", "check_unchanged"]


def test_a_row_indexed_from_the_filesystem_root_answers_to_its_absolute_path(
    client: TestClient, photo_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`pixseek index /` stores root "/" and paths relative to it; the absolute path is "/" + path, with
    one slash (joining root and path as strings would give "//tmp/...")."""
    path = photo_root / "food/apple.png"
    st = path.stat()
    record = ImageRecord(
        id="0123456789abcdef",
        root="/",
        path=str(path).lstrip("/"),
        size=st.st_size,
        mtime_ns=st.st_mtime_ns,
        content_hash="c0ffee",
        width=1,
        height=1,
        label=None,
    )
    monkeypatch.setattr("pixseek.web.routes.images.find_record", lambda _index, _key: record)
    r = client.get("/image", params={"path": str(path)})
    assert r.status_code == 200 and r.content == path.read_bytes()
