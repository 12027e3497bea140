"""Token auth: with PIXSEEK_API_TOKEN set, every route but the open ones answers 401 JSON without the
exact bearer token; the comparison is constant-time; serve refuses a public address without a token."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from typer.testing import CliRunner

from pixseek.cli import app
from pixseek.services import Index
from pixseek.settings import Settings
from pixseek.web import auth, create_app

TOKEN = "s3cret-token"
GOOD = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def locked(web_index: Index, web_settings: Settings) -> Iterator[TestClient]:
    settings = web_settings.model_copy(update={"api_token": SecretStr(TOKEN)})
    with TestClient(create_app(settings, index=web_index)) as c:
        yield c


def _routes(client: TestClient) -> list[tuple[str, str, dict]]:
    row = client.post("/search", data={"text": "x", "k": 1}, headers=GOOD).json()["results"][0]
    return [
        ("POST", "/search", {"data": {"text": "a cat"}}),
        ("GET", f"/image/{row['id']}", {}),
        ("GET", "/image", {"params": {"path": row["path"]}}),
        ("GET", f"/thumbnail/{row['id']}", {}),
        ("GET", "/metrics", {}),
        ("GET", "/info", {}),
    ]


@pytest.mark.parametrize(
    "header",
    [None, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}, {"Authorization": f"bearer {TOKEN}"},
     {"Authorization": f"Bearer {TOKEN} "}, {"Authorization": f"Basic {TOKEN}"}],
    ids=["missing", "wrong", "no-scheme", "lower-case-scheme", "trailing-space", "basic"],
)  # fmt: skip
def test_every_data_route_needs_the_exact_token(locked: TestClient, header: dict | None) -> None:
    for method, path, kwargs in _routes(locked):
        r = locked.request(method, path, headers=header, **kwargs)
        assert r.status_code == 401, (path, r.status_code)
        assert r.json() == {"error": "missing or wrong API token: send Authorization: Bearer <token>",
                            "detail": None}  # fmt: skip
        assert r.headers["www-authenticate"] == 'Bearer realm="pixseek"'


def test_the_right_token_opens_every_route(locked: TestClient) -> None:
    for method, path, kwargs in _routes(locked):
        assert locked.request(method, path, headers=GOOD, **kwargs).status_code == 200, path


def test_liveness_readiness_page_and_docs_stay_open_and_the_page_holds_no_data(
    locked: TestClient, web_index: Index
) -> None:
    for path in ("/health", "/ready", "/", "/static/app.js", "/favicon.ico", "/docs", "/openapi.json"):
        assert locked.get(path).status_code == 200, path
    page = locked.get("/").text
    assert 'data-locked="1"' in page and "this server needs an API token" in page
    for label in web_index.labels():
        assert f'value="{label}"' not in page  # the labels come from /info, after the token
    info = locked.get("/info", headers=GOOD).json()
    assert info["images"] == 6 and info["labels"] == ["animals", "food", "plants"]


def test_the_schema_marks_which_routes_need_the_token(locked: TestClient) -> None:
    schema = locked.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer"}
    assert schema["paths"]["/search"]["post"]["security"] == [{"bearer": []}]
    assert "security" not in schema["paths"]["/health"]["get"]


def test_the_comparison_is_constant_time(locked: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = auth.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", spy)
    assert locked.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert calls == [(b"Bearer nope", f"Bearer {TOKEN}".encode())]


def test_without_a_token_nothing_is_locked(client: TestClient) -> None:
    assert client.post("/search", data={"text": "a cat"}).status_code == 200
    assert 'data-locked=""' in client.get("/").text


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::", "example.org"])
def test_serve_refuses_a_public_address_without_a_token(
    tmp_path: Path, host: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PIXSEEK_API_TOKEN", raising=False)
    run = CliRunner().invoke(app, ["serve", "--db", str(tmp_path / "none.db"), "--host", host])
    assert run.exit_code == 1
    assert " ".join(run.output.split()) == (
        f"error: --host {host} would let anyone on the network search this index; set a token with "
        "PIXSEEK_API_TOKEN=... (or --token), or pass --insecure-public to serve it without one"
    )


@pytest.mark.parametrize("args", [["--host", "127.0.0.1"], ["--host", "::1"], ["--host", "localhost"],
                                  ["--host", "0.0.0.0", "--insecure-public"],
                                  ["--host", "0.0.0.0", "--token", "t"]])  # fmt: skip
def test_loopback_a_token_or_the_explicit_flag_get_past_the_check(
    tmp_path: Path, args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """These go on to the next check, the missing index (so no server is started here)."""
    monkeypatch.delenv("PIXSEEK_API_TOKEN", raising=False)
    db = tmp_path / "none.db"
    run = CliRunner().invoke(app, ["serve", "--db", str(db), *args])
    assert run.exit_code == 1 and " ".join(run.output.split()).startswith(f"error: no index at {db}"), (
        run.output
    )
