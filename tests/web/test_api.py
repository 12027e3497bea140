"""The JSON API: search by image, text and id; filters; images and thumbnails; health and metrics."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from pixseek.services import Index
from tests.indexing.images import write_image


def _png(path: Path) -> bytes:
    return path.read_bytes()


def test_search_by_image_finds_the_same_image_first(client: TestClient, photo_root: Path) -> None:
    r = client.post("/search", files={"image": ("q.png", _png(photo_root / "food/apple.png"))}, data={"k": 3})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model"] == "fake" and body["took_ms"] >= 0
    assert len(body["results"]) == 3
    top = body["results"][0]
    assert top["path"] == "food/apple.png" and top["label"] == "food"
    assert top["score"] == pytest.approx(1.0, abs=1e-3)
    assert set(top) == {"id", "root", "path", "score", "label", "image_url", "thumbnail_url"}
    scores = [h["score"] for h in body["results"]]
    assert scores == sorted(scores, reverse=True)


def test_search_results_equal_the_python_api(client: TestClient, web_index: Index) -> None:
    r = client.post("/search", data={"text": "a red apple", "k": 4})
    expected = web_index.search(text="a red apple", k=4)
    assert [h["id"] for h in r.json()["results"]] == [h.id for h in expected]
    assert [h["score"] for h in r.json()["results"]] == pytest.approx([h.score for h in expected], abs=1e-5)


def test_like_by_id_and_path_excludes_the_query(client: TestClient, web_index: Index) -> None:
    record = web_index.get("animals/cat.png")
    by_id = client.post("/search", data={"like": record.id, "k": 5}).json()["results"]
    by_path = client.post("/search", data={"like": "animals/cat.png", "k": 5}).json()["results"]
    assert by_id == by_path
    assert record.id not in [h["id"] for h in by_id]
    assert len(by_id) == 5


def test_text_and_like_as_query_parameters_or_form_fields(client: TestClient, web_index: Index) -> None:
    """The same search either way; with both, the form field wins."""
    for field, value in (("text", "cat"), ("like", "animals/cat.png")):
        by_form = client.post("/search", data={field: value, "k": 3}).json()["results"]
        by_query = client.post("/search", params={field: value, "k": 3}).json()["results"]
        assert by_query == by_form and len(by_form) == 3
    other = client.post("/search", data={"like": "food/pear.jpg", "k": 3}).json()["results"]
    both = client.post("/search", params={"like": "animals/cat.png"}, data={"like": "food/pear.jpg", "k": 3})
    assert (
        both.json()["results"]
        == other
        != client.post("/search", data={"like": "animals/cat.png", "k": 3}).json()["results"]
    )
    assert web_index.get("food/pear.jpg").id not in [h["id"] for h in other]


def test_k_and_filters_as_query_parameters_or_form_fields(client: TestClient) -> None:
    q = client.post("/search?k=2&label=animals", data={"text": "cat"}).json()["results"]
    f = client.post("/search", data={"text": "cat", "k": 2, "label": "animals"}).json()["results"]
    assert q == f and len(q) == 2 and {h["label"] for h in q} == {"animals"}
    folder = client.post("/search", data={"text": "x", "folder": "animals/birds", "k": 10}).json()
    assert [h["path"] for h in folder["results"]] == ["animals/birds/owl.jpg"]
    globbed = client.post("/search", data={"text": "x", "path_glob": "*.jpg", "k": 10}).json()
    assert {h["path"] for h in globbed["results"]} == {"animals/birds/owl.jpg", "food/pear.jpg"}


def test_image_and_thumbnail_by_id(client: TestClient, web_index: Index, photo_root: Path) -> None:
    hit = client.post("/search", data={"text": "pear", "k": 10}).json()["results"]
    pear = next(h for h in hit if h["path"] == "food/pear.jpg")
    r = client.get(pear["image_url"])
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/jpeg"
    assert r.content == (photo_root / "food/pear.jpg").read_bytes()
    t = client.get(pear["thumbnail_url"])
    assert t.status_code == 200 and t.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(t.content)).size[0] <= 320
    assert client.get(pear["thumbnail_url"]).content == t.content  # cached


def test_image_by_indexed_path(client: TestClient, photo_root: Path) -> None:
    rel = client.get("/image", params={"path": "food/apple.png"})
    absolute = client.get("/image", params={"path": str(photo_root / "food/apple.png")})
    assert rel.status_code == absolute.status_code == 200
    assert rel.content == (photo_root / "food/apple.png").read_bytes() == absolute.content


def test_page_shows_model_count_and_labels(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    assert "6 images" in r.text and "fake" in r.text
    for label in ("animals", "food", "plants"):
        assert f'<option value="{label}">' in r.text
    assert client.get("/static/app.js").status_code == 200
    # the file picker offers the formats the server decodes (README), not "image/*", which offers SVG too
    assert 'accept=".avif,.bmp,.gif,.jpeg,.jpg,.png,.tif,.tiff,.webp"' in r.text


def test_docs_openapi_health_metrics(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    assert {"/search", "/image/{id}", "/thumbnail/{id}", "/image", "/health"} <= set(spec["paths"])
    assert client.get("/health").json() == {"status": "ok", "images": 6, "model": "fake"}
    client.post("/search", data={"text": "cat"})
    text = client.get("/metrics").text
    assert 'pixseek_http_requests_total{method="POST",route="/search",status="200"}' in text
    assert "pixseek_embed_seconds_count" in text and "pixseek_search_seconds_count" in text


def test_index_changes_are_picked_up_without_restart(
    client: TestClient, web_settings, photo_root: Path
) -> None:
    from tests.fakes import FakeEmbedder

    write_image(photo_root / "plants/flower.png", 99)
    other = Index(web_settings.db, settings=web_settings, embedder=FakeEmbedder())  # another writer
    other.add(photo_root, workers=0)
    other.close()
    assert client.get("/info").json()["images"] == 7  # /info reads the catalog; /health answers from memory
    r = client.post("/search", files={"image": ("q.png", (photo_root / "plants/flower.png").read_bytes())})
    assert r.json()["results"][0]["path"] == "plants/flower.png"


def test_a_form_with_no_file_chosen_still_searches_by_text(client: TestClient) -> None:
    r = client.post("/search", files={"image": ("", b"")}, data={"text": "cat", "k": 2})
    assert r.status_code == 200 and len(r.json()["results"]) == 2
