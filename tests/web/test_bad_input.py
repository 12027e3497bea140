"""Bad input gets a 4xx with a JSON error, never a 500, and the server keeps serving."""

from __future__ import annotations

import io
import zlib
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image


def _assert_error(r, status: int) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert isinstance(body["error"], str) and body["error"]


def _still_serving(client: TestClient) -> None:
    assert client.post("/search", data={"text": "cat"}).status_code == 200


def _bomb_png(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height pixels (all zero, compressed to almost nothing)."""
    import struct

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = zlib.compress(b"\x00" * (width + 1) * 64, 9)  # only a few rows: decoding would be refused first
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    ("files", "data", "status"),
    [
        ({"image": ("notes.txt", b"hello, not an image")}, {}, 415),
        ({"image": ("empty.png", b"")}, {}, 400),
        ({"image": ("cut.png", b"\x89PNG\r\n\x1a\n\x00\x00")}, {}, 415),
        (None, {}, 400),  # nothing to search by
        (None, {"text": "   "}, 400),
        (None, {"like": "no-such-id"}, 404),
        (None, {"like": "../../etc/passwd"}, 404),
        (None, {"positive": "no-such-id"}, 404),  # a mark is looked up as `like` is
        (None, {"positive": "a" * 300}, 404),  # longer than a file name may be: the OS refuses to look
        (None, {"text": "cat", "negative": "a" * 300}, 404),
        (None, {"like": "a/" * 3000}, 404),  # longer than a path may be
        (None, {"text": "cat", "negative": "no-such-id"}, 404),
        (None, {"text": "cat", "k": "0"}, 400),
        (None, {"text": "cat", "k": "-3"}, 400),
        (None, {"text": "cat", "k": "51"}, 400),  # over max_k
        (None, {"text": "cat", "k": "many"}, 422),
    ],
)
def test_bad_search_requests(client: TestClient, files, data, status: int) -> None:
    _assert_error(client.post("/search", files=files, data=data), status)
    _still_serving(client)


def test_an_unknown_like_and_an_unknown_mark_are_worded_alike(client: TestClient) -> None:
    like = client.post("/search", data={"like": "nope"}).json()["error"]
    mark = client.post("/search", data={"text": "cat", "positive": "nope"}).json()["error"]
    assert like == mark == "'nope' is neither an id nor an indexed path"  # the CLI says it so too


def test_a_long_unknown_id_is_named_in_a_short_error(client: TestClient) -> None:
    error = client.post("/search", data={"like": "x" * 100_000}).json()["error"]
    assert error == f"{'x' * 200!r}... (100000 characters) is neither an id nor an indexed path"


@pytest.mark.parametrize(
    "url", ["/image/" + "a" * 300, "/thumbnail/" + "a" * 300, "/image?path=" + "a" * 300]
)
def test_image_routes_answer_404_for_names_too_long_for_the_os(client: TestClient, url: str) -> None:
    _assert_error(client.get(url), 404)


def test_upload_over_the_size_limit_is_refused(client: TestClient) -> None:
    big = io.BytesIO()
    Image.effect_noise((400, 400), 64).convert("RGB").save(big, format="PNG")  # > 200 kB limit in tests
    assert big.tell() > 200_000
    _assert_error(client.post("/search", files={"image": ("big.png", big.getvalue())}), 413)
    _still_serving(client)


def test_decompression_bomb_is_refused(client: TestClient) -> None:
    r = client.post("/search", files={"image": ("bomb.png", _bomb_png(30_000, 30_000))})
    _assert_error(r, 413)
    _still_serving(client)


def test_malformed_multipart_body(client: TestClient) -> None:
    r = client.post(
        "/search",
        content=b'--xyz\r\nContent-Disposition: form-data; name="text"\r\n\r\ncat',  # never closed
        headers={"content-type": "multipart/form-data; boundary=xyz"},
    )
    assert 400 <= r.status_code < 500, r.text
    _still_serving(client)


def test_text_query_against_an_image_only_model(client: TestClient) -> None:
    client.app.state.pixseek.index.embedder._has_text = False  # the fake's switch, as an image-only model
    _assert_error(client.post("/search", data={"text": "cat"}), 400)
    assert "text" in client.post("/search", data={"text": "cat"}).json()["error"]


def test_unknown_ids(client: TestClient) -> None:
    for url in ("/image/nope", "/thumbnail/nope", "/image/%00", "/thumbnail/..%2F..%2Fetc%2Fpasswd"):
        assert client.get(url).status_code == 404, url


def test_a_file_deleted_after_indexing(client: TestClient, photo_root: Path) -> None:
    (photo_root / "plants/tree.png").unlink()
    _assert_error(client.get("/image", params={"path": "plants/tree.png"}), 404)
    _still_serving(client)
