"""Security headers on every response, and CORS off unless an origin is given."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from pixseek.services import Index
from pixseek.settings import Settings
from pixseek.web import create_app

EXPECTED = {
    "content-security-policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' blob: data:; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}


def _check(response) -> None:  # type: ignore[no-untyped-def]
    for name, value in EXPECTED.items():
        assert response.headers.get(name) == value, (response.request.url, name)


def test_every_kind_of_response_carries_the_headers(client: TestClient) -> None:
    row = client.post("/search", data={"text": "x", "k": 1}).json()["results"][0]
    for response in (
        client.get("/"), client.get("/docs"), client.get("/static/app.js"), client.get("/openapi.json"),
        client.post("/search", data={"text": "a cat"}), client.get(f"/thumbnail/{row['id']}"),
        client.get(f"/image/{row['id']}"), client.get("/health"), client.get("/metrics"),
        client.get("/no-such-route"), client.post("/search", data={"k": "0"}),
    ):  # fmt: skip
        _check(response)


def test_a_401_carries_them_too(web_index: Index, web_settings: Settings) -> None:
    settings = web_settings.model_copy(update={"api_token": SecretStr("t")})
    with TestClient(create_app(settings, index=web_index)) as client:
        response = client.post("/search", data={"text": "a cat"})
        assert response.status_code == 401
        _check(response)


PREFLIGHT = {"Origin": "https://photos.example", "Access-Control-Request-Method": "POST"}


def test_cors_is_off_by_default(client: TestClient) -> None:
    response = client.options("/search", headers=PREFLIGHT)
    assert "access-control-allow-origin" not in response.headers
    assert (
        "access-control-allow-origin"
        not in client.get("/health", headers={"Origin": PREFLIGHT["Origin"]}).headers
    )


@pytest.fixture
def cors_client(web_index: Index, web_settings: Settings) -> Iterator[TestClient]:
    settings = web_settings.model_copy(update={"cors_origins": ("https://photos.example",)})
    with TestClient(create_app(settings, index=web_index)) as client:
        yield client


def test_a_given_origin_and_only_it_may_call_the_api(cors_client: TestClient) -> None:
    allowed = cors_client.options(
        "/search", headers={**PREFLIGHT, "Access-Control-Request-Headers": "Authorization"}
    )
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://photos.example"
    other = cors_client.options("/search", headers={**PREFLIGHT, "Origin": "https://evil.example"})
    assert other.headers.get("access-control-allow-origin") != "https://evil.example"
    _check(allowed)
