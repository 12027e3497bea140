"""`pixseek eval FOLDER` straight after the quick start: reuse ./pixseek.db and its model, offline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import pixseek.models.registry as registry
from pixseek.cli import app
from pixseek.errors import ModelNotFoundError
from tests.fakes import FakeEmbedder
from tests.test_cli_evaluation import write_classes

runner = CliRunner()
STORED = "stored-model"  # the model the quick start indexed with; any other name is "not available"


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> list[str | None]:
    """Only STORED can be loaded, as offline after a quick start with that model."""
    names: list[str | None] = []
    fake = FakeEmbedder()

    def load_embedder(name_or_path: str | None = None, *, settings: object) -> FakeEmbedder:
        names.append(name_or_path)
        if name_or_path != STORED:
            raise ModelNotFoundError(f"model {name_or_path!r} is offline and not in the Hugging Face cache")
        return fake

    monkeypatch.setattr(registry, "load_embedder", load_embedder)
    return names


@pytest.fixture
def quick_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, asked: list[str | None]) -> Path:
    """cwd with ./pixseek.db holding the labelled folder, indexed with STORED."""
    monkeypatch.chdir(tmp_path)
    folder = write_classes(tmp_path / "data", {"red": 10, "green": 10, "blue": 10})
    done = runner.invoke(app, ["index", str(folder), "--model", STORED, "--workers", "0"])
    assert done.exit_code == 0, done.output
    asked.clear()
    return folder


def test_eval_reuses_the_default_index_and_its_model(quick_start: Path, asked: list[str | None]) -> None:
    result = runner.invoke(app, ["eval", str(quick_start), "--out", "report", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["db"] == "pixseek.db"
    assert report["indexing"]["unchanged"] == 30 and report["indexing"]["added"] == 0  # nothing re-embedded
    assert asked == [STORED]
    assert not Path("report/index.db").exists()


def test_eval_of_a_folder_the_default_index_lacks_uses_a_new_index(
    quick_start: Path, tmp_path: Path, asked: list[str | None]
) -> None:
    other = write_classes(tmp_path / "other", {"red": 10, "blue": 10}, seed=3)
    result = runner.invoke(app, ["eval", str(other), "--out", "report", "--json"])
    assert result.exit_code == 1
    error = json.loads(result.stdout)["error"]
    assert "--db" in error and "--model" in error  # how to get out of it, offline
    assert asked == ["clip-vit-b32"]  # the default model (README) for a new index: ./pixseek.db untouched
    assert runner.invoke(app, ["search", "--like", str(other / "red/0.png"), "--json"]).exit_code != 0
