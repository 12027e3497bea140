"""Shared CLI behaviour: errors become one clear line (brackets intact), never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from pixseek.cli import app
from pixseek.errors import QueryError
from pixseek.services import Index
from tests.fakes import FakeEmbedder
from tests.indexing.images import make_tree


def test_error_text_with_brackets_is_printed_verbatim(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["index", str(tmp_path / "no such [folder]"), "--db", str(tmp_path / "db")]
    )
    assert result.exit_code == 1
    assert "no such [folder]" in result.output
    assert "Traceback" not in result.output


def test_indexing_a_file_says_it_is_a_file(tmp_path: Path) -> None:
    image = tmp_path / "one.png"
    image.write_bytes(b"not really")
    result = CliRunner().invoke(app, ["index", str(image), "--db", str(tmp_path / "db")])
    assert result.exit_code == 1
    assert "a file, not a folder" in result.output
    assert not (tmp_path / "db").exists()  # nothing written


def test_an_empty_text_query_is_refused(tmp_path: Path) -> None:

    make_tree(tmp_path / "imgs", ["a/x.png", "b/y.png"])
    index = Index(tmp_path / "db", embedder=FakeEmbedder())
    index.add(tmp_path / "imgs", workers=0)
    with pytest.raises(QueryError, match="empty"):
        index.search(text="   ")


def _help(*command: str) -> str:
    return " ".join(CliRunner().invoke(app, [*command, "--help"]).stdout.split())


def test_help_is_plain_text_so_brackets_survive() -> None:
    """Rich markup in --help ate "[torch]" and every "[default: …]" of options whose help it parsed."""
    assert "needs the [torch] or [offline]" in _help("model", "export")
    assert "Largest upload, in MiB [default: 20]" in _help("serve")


def test_route_passes_on_the_concurrency_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """PIXSEEK_MAX_CONCURRENT reached serve but not route, whose router always used 64."""
    import uvicorn

    import pixseek.cli.web as cli_web
    import pixseek.web.router as router

    asked: dict[str, object] = {}
    monkeypatch.setattr(router, "create_router", lambda shards, **kw: asked.update(kw) or object())
    monkeypatch.setattr(cli_web, "listen_on", lambda host, port: None)
    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets=None: None)
    result = CliRunner().invoke(
        app, ["route", "--shard", "http://127.0.0.1:9"], env={"PIXSEEK_MAX_CONCURRENT": "3"}
    )
    assert result.exit_code == 0, result.output
    assert asked["max_concurrent"] == 3
    route = ["route", "--shard", "http://127.0.0.1:9", "--max-concurrent", "5"]  # as serve takes it
    result = CliRunner().invoke(app, route, env={"PIXSEEK_MAX_CONCURRENT": "3"})
    assert result.exit_code == 0, result.output
    assert asked["max_concurrent"] == 5


def test_an_infinite_upload_limit_is_a_usage_error_not_a_traceback() -> None:
    """`--max-upload-mb inf` passed the option's minimum and overflowed int() into a traceback."""
    result = CliRunner().invoke(app, ["serve", "--max-upload-mb", "inf"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "less than or equal to 1048576" in " ".join(result.output.split())
