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
