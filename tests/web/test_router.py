"""`pixseek route` over two live shard replicas, each serving its own catalog: the merged answer equals one
catalog that holds both shards' images, and a shard that fails or a query it cannot route is a clear error."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI, Response
from fastapi.testclient import TestClient
from pydantic import SecretStr
from typer.testing import CliRunner

from pixseek.cli import app as cli_app
from pixseek.services import Index, SearchFilter
from pixseek.settings import Settings
from pixseek.web import create_app
from pixseek.web import router as router_module
from pixseek.web.router import create_router
from tests.fakes import FakeEmbedder
from tests.indexing.images import make_tree
from tests.web.live_server import free_port, live_server

TOKEN = "router-test-token"


def _index(db: Path, *folders: Path) -> Index:
    index = Index(db, settings=Settings(db=db, max_k=50), embedder=FakeEmbedder())
    for folder in folders:
        index.add(folder, workers=0)
    return index


@pytest.fixture(scope="module")
def shards(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    """Two shard replicas (18 and 12 images, in two folders) with an API token, and one catalog holding
    both folders: the expected answers."""
    base = tmp_path_factory.mktemp("router")
    make_tree(base / "a", [f"{c}/{i}.png" for c in ("red", "blue") for i in range(9)], first_seed=0)
    make_tree(base / "b", [f"{c}/{i}.png" for c in ("red", "green") for i in range(6)], first_seed=100)
    whole = _index(base / "whole.db", base / "a", base / "b")
    with ExitStack() as stack:
        urls = []
        for name in ("a", "b"):
            settings = Settings(db=base / f"{name}.db", api_token=SecretStr(TOKEN), max_k=50)
            app = create_app(settings, index=_index(base / f"{name}.db", base / name))
            urls.append(stack.enter_context(live_server(app)))
        yield {"base": base, "urls": urls, "whole": whole}


@pytest.fixture(scope="module")
def router(shards: dict[str, object]) -> Iterator[TestClient]:
    with TestClient(create_router(shards["urls"], api_token=TOKEN)) as client:  # type: ignore[arg-type]
        client.headers["Authorization"] = f"Bearer {TOKEN}"
        yield client


def _expected(whole: Index, k: int, **terms: object) -> list[tuple[str, str, float]]:
    return [(h.root or "", h.path, round(float(h.score), 6)) for h in whole.search(k=k, **terms)]


def _got(body: dict) -> list[tuple[str, str, float]]:
    return [(r["root"], r["path"], r["score"]) for r in body["results"]]


@pytest.mark.parametrize("k", [1, 7, 30])
def test_an_image_search_through_the_router_equals_one_catalog_of_both_shards(
    k: int, router: TestClient, shards: dict[str, object]
) -> None:
    base: Path = shards["base"]  # type: ignore[assignment]
    query = base / "b" / "green/4.png"
    with query.open("rb") as f:
        reply = router.post("/search", params={"k": k}, files={"image": ("q.png", f, "image/png")})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    got, want = _got(body), _expected(shards["whole"], k, image=query)  # type: ignore[arg-type]
    assert [(root, path) for root, path, _ in got] == [(root, path) for root, path, _ in want]
    assert [score for *_, score in got] == pytest.approx([score for *_, score in want], abs=1e-5)
    assert len(got) == min(k, 30)
    first = body["results"][0]
    assert first["shard"] == shards["urls"][1] and first["path"] == "green/4.png"  # type: ignore[index]
    assert first["image_url"] == f"{first['shard']}/image/{first['id']}"
    assert [s["url"] for s in body["shards"]] == shards["urls"]


def test_a_text_search_with_a_filter_is_merged_too(router: TestClient, shards: dict[str, object]) -> None:
    reply = router.post("/search", data={"text": "red things", "k": "6", "label": "red"})
    assert reply.status_code == 200, reply.text
    want = _expected(shards["whole"], 6, text="red things", filters=SearchFilter(label="red"))  # type: ignore[arg-type]
    assert [(r, p) for r, p, _ in _got(reply.json())] == [(r, p) for r, p, _ in want]
    assert {r["label"] for r in reply.json()["results"]} == {"red"}


def test_ids_of_one_shard_cannot_be_routed(router: TestClient) -> None:
    for field in ("like", "positive", "negative"):
        reply = router.post("/search", data={field: "red/1.png"})
        assert reply.status_code == 400
        assert reply.json()["error"].startswith(f"'{field}' names a row of one shard's catalog")


def test_a_query_the_shards_refuse_is_their_error(router: TestClient) -> None:
    reply = router.post("/search", data={"text": "x", "k": "0"})
    assert reply.status_code == 400
    assert "k must be an integer from 1 to 50" in reply.json()["error"]  # the shard's own words
    assert router.post("/search", data={"text": "x", "k": "many"}).status_code == 422


def test_the_router_asks_for_the_token_and_passes_it_on(
    router: TestClient, shards: dict[str, object]
) -> None:
    reply = router.post("/search", data={"text": "x"}, headers={"Authorization": "Bearer wrong"})
    assert reply.status_code == 401
    with TestClient(create_router(shards["urls"])) as no_token:  # type: ignore[arg-type]
        reply = no_token.post("/search", data={"text": "x"})  # the shards refuse the router
    assert reply.status_code == 502
    assert "answered 401" in reply.json()["error"]
    with TestClient(create_router(shards["urls"])) as no_token:  # type: ignore[arg-type]
        ready = no_token.get("/ready")  # the shards' /ready is open to all; their searches are not
    assert ready.status_code == 503
    assert [s["ready"] for s in ready.json()["shards"]] == [False, False]
    assert all("refuses the router's token (401)" in s["error"] for s in ready.json()["shards"])


def test_readiness_needs_every_shard_and_a_dead_shard_is_a_502(
    router: TestClient, shards: dict[str, object]
) -> None:
    reply = router.get("/ready")
    assert reply.status_code == 200, reply.text
    assert reply.json()["ready"] is True and reply.json()["model"] == "fake"
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    urls = [*shards["urls"], dead]  # type: ignore[misc]
    with TestClient(create_router(urls, api_token=TOKEN, timeout=5)) as partial:
        partial.headers["Authorization"] = f"Bearer {TOKEN}"
        ready = partial.get("/ready")
        assert ready.status_code == 503
        assert [s["ready"] for s in ready.json()["shards"]] == [True, True, False]
        reply = partial.post("/search", data={"text": "x"})
        assert reply.status_code == 502
        assert reply.json()["error"].startswith(f"shard {dead} did not answer: ConnectError: ")  # not a repr
        assert partial.get("/health").json() == {"status": "ok"}


def test_the_route_command_serves_the_router_over_the_given_shards(
    shards: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    ran: dict[str, object] = {}

    def fake_run(server: uvicorn.Server, sockets: list[socket.socket]) -> None:
        ran["port"] = sockets[0].getsockname()[1]
        sockets[0].close()
        with TestClient(server.config.app) as client:  # type: ignore[arg-type]
            client.headers["Authorization"] = f"Bearer {TOKEN}"
            ran["ready"] = client.get("/ready").status_code
            ran["hits"] = len(client.post("/search", data={"text": "x", "k": "4"}).json()["results"])

    monkeypatch.setattr(uvicorn.Server, "run", fake_run)
    args = ["route", *(a for url in shards["urls"] for a in ("--shard", url)), "--port", "8123"]  # type: ignore[attr-defined]
    result = CliRunner().invoke(cli_app, args, env={"PIXSEEK_API_TOKEN": TOKEN})
    assert result.exit_code == 0, result.output
    assert (ran["port"], ran["ready"], ran["hits"]) == (8123, 200, 4)


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--shard", "shard-a:8000"], "--shard shard-a:8000 is not an http:// or https:// URL"),
        (["--shard", "http://a:8000", "--host", "0.0.0.0"], "--host 0.0.0.0 would let anyone on the network"),
    ],
)
def test_the_route_command_refuses_bad_options_in_one_line(args: list[str], error: str) -> None:
    result = CliRunner().invoke(cli_app, ["route", *args], env={"PIXSEEK_API_TOKEN": ""})
    assert result.exit_code == 1
    assert error in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert CliRunner().invoke(cli_app, ["route"]).exit_code == 2  # no shard at all: a usage error


def _odd_shard(status: int, body: str, media_type: str) -> FastAPI:
    """A server that answers every search the same way, as no pixseek replica would."""
    app = FastAPI()

    @app.post("/search")
    def search() -> Response:
        return Response(body, status_code=status, media_type=media_type)

    return app


@pytest.mark.parametrize(
    ("status", "body", "media_type", "want_status", "want_error"),
    [
        (
            200,
            '{"unexpected": true}',
            "application/json",
            502,
            "answered something other than search results",
        ),
        (404, "no such route", "text/plain", 404, "no such route"),
    ],
    ids=["not-results", "plain-text-404"],
)
def test_a_shard_that_answers_oddly_is_a_clear_error(
    status: int,
    body: str,
    media_type: str,
    want_status: int,
    want_error: str,
    shards: dict[str, object],
) -> None:
    with live_server(_odd_shard(status, body, media_type)) as odd:
        urls = [*shards["urls"], odd]  # type: ignore[misc]
        with TestClient(create_router(urls, api_token=TOKEN)) as client:
            client.headers["Authorization"] = f"Bearer {TOKEN}"
            reply = client.post("/search", data={"text": "x"})
    assert reply.status_code == want_status
    assert want_error in reply.json()["error"]


def test_a_malformed_upload_is_a_400_in_the_usual_shape(router: TestClient) -> None:
    reply = router.post(
        "/search",
        content=b"not multipart at all",
        headers={"Content-Type": "multipart/form-data; boundary=zz"},
    )
    assert reply.status_code == 400
    assert set(reply.json()) == {"error", "detail"}


def test_an_upload_over_the_routers_own_limit_is_a_413_as_serve_answers(shards: dict[str, object]) -> None:
    """The body limit allows 64 KB for the form around the file; the file itself is held to the limit."""
    base: Path = shards["base"]  # type: ignore[assignment]
    image = (base / "b" / "green/4.png").read_bytes()
    with TestClient(create_router(shards["urls"], api_token=TOKEN, max_upload_bytes=len(image) - 1)) as small:  # type: ignore[arg-type]
        reply = small.post(
            "/search",
            files={"image": ("q.png", image, "image/png")},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
    assert reply.status_code == 413, reply.text
    assert reply.json()["error"].endswith(f"upload over the {len(image) - 1:,} byte limit")


def test_readiness_does_not_wait_out_the_search_timeout_on_a_hung_shard(
    shards: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A shard that accepts connections and never answers: /ready says so within READY_TIMEOUT."""
    assert router_module.READY_TIMEOUT == 5.0  # the README's limit; shortened here to keep the test quick
    monkeypatch.setattr(router_module, "READY_TIMEOUT", 0.5)
    with socket.socket() as hung:
        hung.bind(("127.0.0.1", 0))
        hung.listen()  # the kernel completes the handshake; nobody ever reads or answers
        url = f"http://127.0.0.1:{hung.getsockname()[1]}"
        with TestClient(create_router([*shards["urls"], url], api_token=TOKEN, timeout=30)) as client:  # type: ignore[misc]
            client.headers["Authorization"] = f"Bearer {TOKEN}"
            start = time.monotonic()
            ready = client.get("/ready")
            took = time.monotonic() - start
    assert ready.status_code == 503 and took < 10
    assert ready.json()["shards"][-1]["error"].startswith("did not answer: ReadTimeout")
