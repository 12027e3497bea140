"""One line per request (`GET /health 200 1.2 ms`) from the app; `pixseek serve` prints it, unless -q."""

from __future__ import annotations

import re
import socket
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import pixseek.models.registry as registry
from pixseek.cli import app as cli_app
from pixseek.services import Index
from pixseek.settings import Settings
from pixseek.web import create_app
from tests.fakes import FakeEmbedder

# The documented shape: METHOD PATH STATUS MILLISECONDS "ms" (one decimal).
LINE = re.compile(r"^(?P<method>[A-Z]+) (?P<path>\S+) (?P<status>\d{3}) (?P<ms>\d+\.\d) ms$")


def _request_lines(text: str) -> list[re.Match[str]]:
    return [m for line in text.splitlines() if (m := LINE.match(line))]


def test_each_request_gives_one_line(web_index: Index, web_settings: Settings) -> None:
    lines: list[str] = []
    with TestClient(create_app(web_settings, index=web_index, request_log=lines.append)) as client:
        assert client.get("/health").status_code == 200
        assert len(lines) == 1
        match = LINE.match(lines[0])
        assert match, lines[0]
        assert (match["method"], match["path"], match["status"]) == ("GET", "/health", "200")

        assert client.post("/search", data={"text": "a cat", "k": "2"}).status_code == 200
        assert client.get("/image/no-such-id").status_code == 404
    assert [line.rsplit(" ", 2)[0] for line in lines] == [
        "GET /health 200",
        "POST /search 200",
        "GET /image/no-such-id 404",
    ]
    assert all(LINE.match(line) for line in lines)


def test_a_newline_in_the_path_cannot_forge_a_second_line(web_index: Index, web_settings: Settings) -> None:
    lines: list[str] = []
    with TestClient(create_app(web_settings, index=web_index, request_log=lines.append)) as client:
        client.get("/x%0AGET%20/admin%20200%201.0%20ms")
    assert len(lines) == 1 and "\n" not in lines[0]
    assert lines[0].startswith("GET /x%0AGET%20/admin%20200%201.0%20ms 404 ")


def test_a_request_that_crashes_still_gives_one_line(web_index: Index, web_settings: Settings) -> None:
    lines: list[str] = []
    app = create_app(web_settings, index=web_index, request_log=lines.append)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("a bug")

    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/boom").status_code == 500
    assert len(lines) == 1 and lines[0].startswith("GET /boom 500 "), lines


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch, web_index: Index, web_settings: Settings) -> dict[str, Any]:
    """`pixseek serve` with the fake model, and uvicorn's server replaced by one GET /health through
    TestClient (the socket it was handed is closed)."""
    monkeypatch.setattr(registry, "load_embedder", lambda ref, *, settings: FakeEmbedder())
    ran: dict[str, Any] = {}

    def fake_run(server: uvicorn.Server, sockets: list[socket.socket]) -> None:
        ran["access_log"] = server.config.access_log
        ran["ports"] = [s.getsockname()[1] for s in sockets]
        for s in sockets:
            s.close()
        with TestClient(server.config.app) as client:
            ran["status"] = client.get("/health").status_code

    monkeypatch.setattr(uvicorn.Server, "run", fake_run)
    ran["db"] = web_settings.db
    return ran


def _serve(db: Path, *extra: str) -> Any:
    result = CliRunner().invoke(cli_app, ["serve", "--db", str(db), *extra])
    assert result.exit_code == 0, result.output
    return result


def test_serve_logs_each_request_once_on_stderr(served: dict[str, Any]) -> None:
    result = _serve(served["db"])
    assert served["status"] == 200
    matches = _request_lines(result.stderr)
    assert len(matches) == 1, result.stderr
    assert (matches[0]["method"], matches[0]["path"], matches[0]["status"]) == ("GET", "/health", "200")
    assert not _request_lines(result.stdout)  # stderr only
    assert served["access_log"] is False  # uvicorn's own access line would double it


def test_serve_quiet_logs_no_request(served: dict[str, Any]) -> None:
    result = _serve(served["db"], "--quiet")
    assert served["status"] == 200
    assert _request_lines(result.stderr) == []
    assert "serving" in result.stderr  # the start-up line is still there


def test_serve_help_documents_quiet() -> None:
    result = CliRunner().invoke(cli_app, ["serve", "--help"])
    assert result.exit_code == 0
    assert "--quiet" in result.output and "request" in result.output


def test_serve_on_a_port_in_use_is_one_error_line(served: dict[str, Any]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(cli_app, ["serve", "--db", str(served["db"]), "--port", str(port)])
    assert result.exit_code == 1, result.output
    assert result.stderr.strip().splitlines() == [
        f"error: cannot listen on 127.0.0.1:{port}: Address already in use; stop what holds it or choose "
        "another --port"
    ]
    assert "status" not in served  # no server ran


def test_serve_on_an_address_not_of_this_machine_names_the_host_not_the_port(served: dict[str, Any]) -> None:
    """192.0.2.1 (TEST-NET-1, RFC 5737) is no address of this machine; the advice was to free the port."""
    argv = ["serve", "--db", str(served["db"]), "--host", "192.0.2.1", "--insecure-public", "--port", "8765"]
    result = CliRunner().invoke(cli_app, argv)
    assert result.exit_code == 1, result.output
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: cannot listen on 192.0.2.1:8765: ")
    assert line.endswith("give --host an address of this machine (127.0.0.1, 0.0.0.0, or one of its own)")
    assert "status" not in served


def test_serve_hands_uvicorn_the_port_it_bound(served: dict[str, Any]) -> None:
    with socket.socket() as probe:  # a port free a moment ago
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    _serve(served["db"], "--port", str(port))
    assert served["ports"] == [port] and served["status"] == 200
