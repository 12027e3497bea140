"""`pixseek index`, `search` and `info` through Typer's runner, with the fake model patched in."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import pixseek.models.registry as registry
from pixseek.cli import app
from tests.fakes import FakeEmbedder
from tests.indexing.images import make_tree

runner = CliRunner()


@pytest.fixture(autouse=True)
def fake_model(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Route load_embedder to the fake model; records which names were asked for."""
    asked: list[str] = []

    def load_embedder(name_or_path: str, *, settings: object) -> FakeEmbedder:
        asked.append(name_or_path)
        return FakeEmbedder(name="other", dim=16) if name_or_path == "other" else FakeEmbedder()

    # The real module: a broken import must fail these tests, not be papered over with a stub.
    monkeypatch.setattr(registry, "load_embedder", load_embedder)
    return asked


@pytest.fixture
def indexed(tmp_path: Path) -> tuple[Path, Path]:
    folder = tmp_path / "imgs"
    make_tree(folder, [f"{c}/{i}.png" for c in ("cats", "dogs") for i in range(4)])
    db = tmp_path / "p.db"
    result = runner.invoke(app, ["index", str(folder), "--db", str(db), "--workers", "0", "--json"])
    assert result.exit_code == 0, result.output
    return folder, db


def test_index_json_keys_and_counts(indexed: tuple[Path, Path]) -> None:
    folder, db = indexed
    (folder / "cats/0.png").unlink()
    (folder / "bad.png").write_bytes(b"nope")
    result = runner.invoke(app, ["index", str(folder), "--db", str(db), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert list(report) == [
        "added", "updated", "renamed", "removed", "unchanged", "failed", "seconds", "images_per_second",
        "embedded", "reused", "ray", "ann_seconds",
    ]  # fmt: skip
    assert (report["removed"], report["unchanged"], report["added"]) == (1, 7, 0)
    assert report["ann_seconds"] == 0.0  # 7 rows: searched exactly, no ANN index to build
    assert report["failed"][0]["path"].endswith("bad.png") and report["failed"][0]["error"]


def test_index_human_summary(tmp_path: Path) -> None:
    make_tree(tmp_path / "imgs", ["a/1.png", "a/2.png"])
    result = runner.invoke(app, ["index", str(tmp_path / "imgs"), "--db", str(tmp_path / "db")])
    assert result.exit_code == 0, result.output
    assert "2 added, 0 updated, 0 renamed, 0 removed, 0 unchanged, 0 failed" in result.stdout


def test_search_lines_and_json(indexed: tuple[Path, Path]) -> None:
    folder, db = indexed
    lines = runner.invoke(app, ["search", str(folder / "dogs/2.png"), "--db", str(db), "-k", "3"])
    assert lines.exit_code == 0, lines.output
    rows = lines.stdout.strip().splitlines()
    assert len(rows) == 3
    score, path = rows[0].split(maxsplit=1)
    assert path == str(folder / "dogs/2.png") and float(score) == pytest.approx(1.0, abs=2e-3)

    as_json = runner.invoke(
        app, ["search", "--like", "dogs/2.png", "--db", str(db), "--json", "--label", "cats"]
    )
    assert as_json.exit_code == 0, as_json.output
    results = json.loads(as_json.stdout)["results"]
    assert len(results) == 4 and all(set(r) == {"id", "root", "path", "score", "label"} for r in results)
    assert {r["label"] for r in results} == {"cats"}

    algebra = ["search", "--text", "beach^2", "--minus-text", "people", "--db", str(db), "--json", "-k", "2"]
    result = runner.invoke(app, [*algebra, "--exact"])
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)["results"]) == 2


def test_search_with_no_match_says_so(indexed: tuple[Path, Path]) -> None:
    _, db = indexed
    result = runner.invoke(app, ["search", "--text", "cat", "--db", str(db), "--label", "birds"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "" and "no results" in result.stderr
    as_json = runner.invoke(app, ["search", "--text", "cat", "--db", str(db), "--label", "birds", "--json"])
    assert json.loads(as_json.stdout) == {"results": []}


def test_info(indexed: tuple[Path, Path]) -> None:
    _, db = indexed
    result = runner.invoke(app, ["info", "--db", str(db), "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert set(info) == {"images", "model", "dim", "bytes_on_disk", "last_indexed", "adapter"}
    assert info["adapter"] is None
    assert (info["images"], info["model"], info["dim"]) == (8, "fake", 32)
    human = runner.invoke(app, ["info", "--db", str(db)])
    assert "8 images, model fake (32-d)" in human.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["search", "--db", "{db}"], "at least one positive"),
        (["search", "--like", "nope", "--db", "{db}"], "neither an id nor an indexed path"),
        (["search", "missing.png", "--db", "{db}"], "does not exist"),
        (["search", "{tmp}", "--db", "{db}"], "is a folder, not an image"),
        (["search", "--text", "x", "-k", "0", "--db", "{db}"], "k must be"),
        (["index", "{tmp}/missing", "--db", "{db}"], "no such folder"),
        (["index", "{tmp}/imgs", "--db", "{db}", "--model", "other"], "built with model 'fake'"),
        (["info", "--db", "{tmp}/none.db"], "no pixseek index"),
    ],
)
def test_errors_exit_1_without_traceback(indexed: tuple[Path, Path], args: list[str], message: str) -> None:
    folder, db = indexed
    argv = [a.format(db=db, tmp=folder.parent) for a in args]
    result = runner.invoke(app, argv)
    assert result.exit_code == 1
    assert message in " ".join(result.stderr.split())
    assert "Traceback" not in result.output


def test_an_error_naming_a_path_with_a_newline_stays_one_line(tmp_path: Path) -> None:
    result = runner.invoke(app, ["info", "--db", f"{tmp_path}/x\ny"])
    assert result.exit_code == 1
    shown = f"{tmp_path}/x\\ny"  # the newline written as Python writes it
    assert result.stderr.splitlines() == [
        f"error: no pixseek index at {shown}; create one with `pixseek index FOLDER --db {shown}`"
    ]


def test_db_that_is_a_file(tmp_path: Path) -> None:
    make_tree(tmp_path / "imgs", ["a/1.png"])
    (tmp_path / "db").write_text("mine")
    result = runner.invoke(app, ["index", str(tmp_path / "imgs"), "--db", str(tmp_path / "db")])
    assert result.exit_code == 1 and "is a file" in result.stderr
    assert (tmp_path / "db").read_text() == "mine"


def test_a_newline_in_a_file_name_stays_on_one_human_line(tmp_path: Path) -> None:
    """Human output escapes control characters as Python writes them (one path, one line); --json keeps
    the name exactly."""
    folder, db = tmp_path / "imgs", tmp_path / "p.db"
    make_tree(folder, ["odd\nname.png", "plain.png"])
    assert runner.invoke(app, ["index", str(folder), "--db", str(db), "--workers", "0"]).exit_code == 0
    result = runner.invoke(app, ["search", "--like", "plain.png", "--db", str(db), "-k", "1"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1].endswith(f"  {folder}/odd\\nname.png")
    raw = runner.invoke(app, ["search", "--like", "plain.png", "--db", str(db), "-k", "1", "--json"])
    assert json.loads(raw.stdout)["results"][0]["path"] == "odd\nname.png"


def test_a_query_image_click_thinks_unreadable_is_pixseek_s_to_judge(
    indexed: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """click's Path type refused an unreadable image as a usage error (exit 2, never --json's shape). Here
    os.access says 'unreadable' (root reads mode-000 files, so a real permission test needs another
    user); pixseek opens the file itself and answers, exit 0, where click had stopped it."""
    import os

    folder, db = indexed
    image = next(folder.rglob("*.png"))
    real = os.access
    monkeypatch.setattr(
        os, "access", lambda path, mode, *a, **kw: Path(path) != image and real(path, mode, *a, **kw)
    )
    result = runner.invoke(app, ["search", str(image), "--db", str(db), "--json", "-k", "1"])
    assert result.exit_code == 0 and "not readable" not in result.output, result.output
