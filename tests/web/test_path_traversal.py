"""Image serving never leaves the index: ../, absolute paths, symlinks and encoded variants are refused.

The fixtures put the indexed root at tmp_path/photos and the secret at tmp_path/secret.txt, so one `..`
from the root reaches it. Every traversal case first checks that its path, decoded the way a careless
server might decode it, really lands on the secret: a server that followed it would leak SECRET.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

import pixseek.web
from pixseek.services import Index
from pixseek.settings import Settings
from pixseek.web import create_app

SECRET = "top secret, outside the index"
STATIC = Path(pixseek.web.__file__).resolve().parent / "static"


@pytest.fixture(params=["no token", "token"])
def client(request: pytest.FixtureRequest, web_index: Index, web_settings: Settings) -> Iterator[TestClient]:
    """Every probe runs twice: on an open server, and on one with an API token (sent, so the probe is
    judged by the path checks and not stopped by the 401)."""
    token = request.param == "token"
    settings = web_settings.model_copy(update={"api_token": SecretStr("t")}) if token else web_settings
    headers = {"Authorization": "Bearer t"} if token else {}
    with TestClient(create_app(settings, index=web_index), headers=headers) as c:
        yield c


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text(SECRET)
    return path


def _refused(r) -> None:
    assert r.status_code in (400, 404, 409, 422), (r.status_code, r.text)
    assert SECRET not in r.text


def _naively_resolved(base: Path, path: str) -> Path:
    """Where `path` lands if a server percent-decoded it fully and treated backslashes as separators."""
    while unquote(path) != path:
        path = unquote(path)
    return (base / path.replace("\\", "/")).resolve()


@pytest.mark.parametrize(
    "path",
    [
        "../secret.txt",
        "animals/../../secret.txt",
        "animals/birds/../../../secret.txt",
        "%2e%2e/secret.txt",
        "%252e%252e%252fsecret.txt",
        "..%2fsecret.txt",
        "animals\\..\\..\\secret.txt",
    ],
)
def test_relative_paths_that_reach_the_secret_are_refused(
    client: TestClient, photo_root: Path, secret: Path, path: str
) -> None:
    assert _naively_resolved(photo_root, path) == secret.resolve()  # the case can fail
    _refused(client.get("/image", params={"path": path}))


@pytest.mark.parametrize(
    "path",
    [
        "animals/../food/apple.png",  # inside the root, but not a path as the index holds it
        "/etc/passwd",
        "animals/cat.png\x00.txt",
        "",
    ],
)
def test_image_by_path_refuses_anything_not_indexed(client: TestClient, secret: Path, path: str) -> None:
    _refused(client.get("/image", params={"path": path}))


def test_absolute_path_of_a_file_outside_the_index(client: TestClient, secret: Path) -> None:
    _refused(client.get("/image", params={"path": str(secret)}))


@pytest.mark.parametrize(
    "url",
    [
        "/image/..%2Fsecret.txt",
        "/image/animals%2F..%2F..%2Fsecret.txt",
        "/image/%2e%2e%2fsecret.txt",
        "/image/../secret.txt",
        "/image?path=..%2Fsecret.txt",
        "/image?path=animals%2F..%2F..%2Fsecret.txt",
        "/image?path=%2e%2e%2fsecret.txt",
        "/thumbnail/..%2Fsecret.txt",
        "/thumbnail/..%252Fsecret.txt",
    ],
)
def test_raw_encoded_urls_towards_the_secret(
    client: TestClient, photo_root: Path, secret: Path, url: str
) -> None:
    encoded = url.split("path=", 1)[1] if "path=" in url else url.split("/", 2)[2]
    assert _naively_resolved(photo_root, encoded) == secret.resolve()  # the case can fail
    r = client.get(url)
    assert r.status_code in (400, 404, 409, 422), (url, r.status_code)
    assert SECRET not in r.text


@pytest.mark.parametrize(
    "url",
    [
        "/image?path=%2Fetc%2Fpasswd",
        "/static/" + "..%2F" * 16 + "etc%2Fpasswd",  # more `..` than the tree is deep: lands on /
        "/image/" + "..%2F" * 16 + "etc%2Fpasswd",
    ],
)
def test_raw_encoded_urls_towards_system_files(client: TestClient, url: str) -> None:
    r = client.get(url)
    assert r.status_code in (400, 404, 409, 422), (url, r.status_code)
    assert "root:" not in r.text


def test_static_files_do_not_climb_to_the_secret(client: TestClient, secret: Path) -> None:
    climb = Path(os.path.relpath(secret, STATIC)).as_posix()  # exactly as deep as needed
    assert (STATIC / climb).resolve() == secret.resolve()
    for url in (f"/static/{climb.replace('/', '%2F')}", f"/static/{climb.replace('/', '%252F')}"):
        _refused(client.get(url))


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
