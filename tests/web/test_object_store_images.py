"""Rows indexed from an S3 prefix (a real moto_server): the app serves their bytes and thumbnails from the
store, and refuses an object that was deleted or overwritten since, as it does for local files."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from pixseek.services import Index
from pixseek.settings import Settings
from pixseek.web import create_app
from tests.fakes import FakeEmbedder
from tests.indexing.images import make_tree, write_image
from tests.s3_server import S3Server

BUCKET = "serve-bucket"
URI = f"s3://{BUCKET}/pics"


@pytest.fixture
def s3_client(
    tmp_path: Path, s3_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[TestClient, dict[str, Path], object]]:
    for key, value in s3_server.env.items():
        monkeypatch.setenv(key, value)
    store = s3_server.client()
    if BUCKET in {b["Name"] for b in store.list_buckets()["Buckets"]}:
        for obj in store.list_objects_v2(Bucket=BUCKET).get("Contents", []):
            store.delete_object(Bucket=BUCKET, Key=obj["Key"])
    else:
        store.create_bucket(Bucket=BUCKET)
    written = make_tree(tmp_path / "pics", ["a/one.png", "b/two.jpg"])
    s3_server.upload_tree(BUCKET, "pics", tmp_path / "pics")
    settings = Settings(db=tmp_path / "index.db", max_image_pixels=4_000_000)
    index = Index(settings.db, settings=settings, embedder=FakeEmbedder())
    index.add(URI, workers=0)
    with TestClient(create_app(settings, index=index)) as client:
        yield client, written, store
    index.close()


def _id(client: TestClient, path: str) -> str:
    """The row id the API reports for `path` (its own search result list leaves the query out)."""
    other = "b/two.jpg" if path == "a/one.png" else "a/one.png"
    hits = client.post("/search", data={"like": other, "k": 5}).json()["results"]
    return next(h["id"] for h in hits if h["path"] == path)


def test_original_bytes_and_thumbnails_come_from_the_store(s3_client) -> None:
    client, written, _ = s3_client
    for path, local in written.items():
        row = _id(client, path)
        original = client.get(f"/image/{row}")
        assert original.status_code == 200, original.text
        assert original.content == local.read_bytes()  # byte for byte what was uploaded
        thumb = client.get(f"/thumbnail/{row}")
        assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
        with Image.open(io.BytesIO(thumb.content)) as im:
            assert im.size == Image.open(local).size  # the test images are under 320 px: kept as they are
    by_path = client.get("/image", params={"path": f"{URI}/a/one.png"})
    assert by_path.status_code == 200 and by_path.content == written["a/one.png"].read_bytes()


def test_a_deleted_object_is_404_and_an_overwritten_one_409(s3_client, tmp_path: Path) -> None:
    client, _, store = s3_client
    gone, changed = _id(client, "a/one.png"), _id(client, "b/two.jpg")
    store.delete_object(Bucket=BUCKET, Key="pics/a/one.png")
    bigger = write_image(tmp_path / "bigger.jpg", seed=7, size=(64, 64)).read_bytes()
    store.put_object(Bucket=BUCKET, Key="pics/b/two.jpg", Body=bigger)
    for route in ("image", "thumbnail"):
        missing = client.get(f"/{route}/{gone}")
        assert missing.status_code == 404 and "no longer in the store" in missing.json()["error"]
        stale = client.get(f"/{route}/{changed}")
        assert stale.status_code == 409 and "changed since it was indexed" in stale.json()["error"]
