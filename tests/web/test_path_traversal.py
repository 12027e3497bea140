"""Image serving never leaves the index: ../, absolute paths, symlinks and encoded variants are refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

SECRET = "top secret, outside the index"


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text(SECRET)
    return path


def _refused(r) -> None:
    assert r.status_code in (400, 404, 409, 422), (r.status_code, r.text)
    assert SECRET not in r.text


@pytest.mark.parametrize(
    "path",
    [
        "../secret.txt",
        "animals/../../secret.txt",
        "animals/../food/apple.png",  # inside the root, but not a path as the index holds it
        "/etc/passwd",
        "%2e%2e/secret.txt",
        "%252e%252e%252fsecret.txt",
        "..%2fsecret.txt",
        "animals/cat.png\x00.txt",
        "animals\\..\\..\\secret.txt",
        "",
    ],
)
def test_image_by_path_refuses_anything_not_indexed(client: TestClient, path: str) -> None:
    _refused(client.get("/image", params={"path": path}))


def test_absolute_path_of_a_file_outside_the_index(client: TestClient, secret: Path) -> None:
    _refused(client.get("/image", params={"path": str(secret)}))


@pytest.mark.parametrize(
    "url",
    [
        "/image/..%2F..%2Fsecret.txt",
        "/image/%2e%2e%2fsecret.txt",
        "/image/../../secret.txt",
        "/image?path=..%2F..%2Fsecret.txt",
        "/image?path=%2Fetc%2Fpasswd",
        "/thumbnail/..%252F..%252Fsecret.txt",
        "/static/..%2F..%2F..%2F..%2Fetc%2Fpasswd",
    ],
)
def test_raw_encoded_urls(client: TestClient, url: str) -> None:
    r = client.get(url)
    assert r.status_code in (400, 404, 409, 422), (url, r.status_code)
    assert "root:" not in r.text and SECRET not in r.text


def test_an_indexed_file_swapped_for_a_symlink_is_not_followed(
    client: TestClient, photo_root: Path, secret: Path
) -> None:
    target = photo_root / "food/apple.png"
    target.unlink()
    target.symlink_to(secret)  # same path as indexed, now pointing outside
    _refused(client.get("/image", params={"path": "food/apple.png"}))
    record_id = client.post("/search", data={"like": "animals/cat.png", "k": 10}).json()["results"]
    apple = next(h for h in record_id if h["path"] == "food/apple.png")
    _refused(client.get(apple["image_url"]))
    _refused(client.get(apple["thumbnail_url"]))
