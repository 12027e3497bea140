"""What the CLI tells a user: exit codes, empty folders, reused vectors, JSON errors, one-line OS errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import pixseek.models.registry as registry
from pixseek.cli import app
from tests.fakes import FakeEmbedder
from tests.file_modes import needs_root, run_obeying_file_modes
from tests.indexing.images import make_tree

runner = CliRunner()


@pytest.fixture(autouse=True)
def fake_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "load_embedder", lambda name_or_path, *, settings: FakeEmbedder())


def _index(*args: str):
    return runner.invoke(app, ["index", *args, "--workers", "0"])


def test_strict_exits_3_when_a_file_failed_and_0_without(tmp_path: Path) -> None:
    folder = tmp_path / "imgs"
    make_tree(folder, ["a/1.png", "a/2.png"])
    (folder / "a/broken.png").write_bytes(b"not a png")
    db = str(tmp_path / "db")
    lenient = _index(str(folder), "--db", db)
    assert lenient.exit_code == 0, lenient.output
    assert "failed: " in lenient.stderr and "broken.png" in lenient.stderr
    strict = _index(str(folder), "--db", db, "--strict", "--json")
    assert strict.exit_code == 3, strict.output
    assert json.loads(strict.stdout)["failed"][0]["path"].endswith("broken.png")
    (folder / "a/broken.png").unlink()
    assert _index(str(folder), "--db", db, "--strict").exit_code == 0


def test_help_documents_the_exit_codes() -> None:
    text = " ".join(runner.invoke(app, ["index", "--help"], terminal_width=200).stdout.split())
    assert "3 --strict and" in text and "130 interrupted" in text


@pytest.mark.parametrize("contents", [[], ["notes.txt", "drawing.svg"]])
def test_a_folder_with_no_supported_images_says_so(tmp_path: Path, contents: list[str]) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    for name in contents:
        (folder / name).write_text("x")
    result = _index(str(folder), "--db", str(tmp_path / "db"))
    assert result.exit_code == 0, result.output
    assert f"no supported images in {folder}" in result.stderr
    assert ".png" in result.stderr


def test_copies_are_reported_as_reused_and_not_counted_in_the_speed(tmp_path: Path) -> None:
    folder = tmp_path / "imgs"
    make_tree(folder, ["a/1.png", "a/2.png"])
    for i in range(5):  # five byte-identical copies of 1.png: one embedding serves all six
        shutil.copy(folder / "a/1.png", folder / f"a/copy{i}.png")
    result = _index(str(folder), "--db", str(tmp_path / "db"), "--json")
    report = json.loads(result.stdout)
    assert (report["added"], report["embedded"], report["reused"]) == (7, 2, 5)
    assert report["images_per_second"] == pytest.approx(2 / report["seconds"], rel=1e-6)
    human = _index(str(folder / "a"), "--db", str(tmp_path / "db2"))
    assert "2 embedded at" in human.stdout and "5 vectors reused" in human.stdout


def test_json_errors_are_json_on_stdout(tmp_path: Path) -> None:
    result = runner.invoke(app, ["info", "--db", str(tmp_path / "nothing.db"), "--json"])
    assert result.exit_code == 1
    payload = json.loads(result.stdout)
    assert set(payload) == {"error", "detail"}
    assert "no pixseek index" in payload["error"] and payload["detail"]["type"] == "CatalogError"
    plain = runner.invoke(app, ["info", "--db", str(tmp_path / "nothing.db")])
    assert plain.exit_code == 1 and plain.stdout == "" and plain.stderr.startswith("error: no pixseek index")


def test_json_errors_for_a_missing_folder_and_a_bad_query(tmp_path: Path) -> None:
    missing = _index(str(tmp_path / "nope"), "--db", str(tmp_path / "db"), "--json")
    assert missing.exit_code == 1
    assert json.loads(missing.stdout)["error"] == f"cannot index {tmp_path / 'nope'}: no such folder"
    folder = tmp_path / "imgs"
    make_tree(folder, ["a/1.png"])
    _index(str(folder), "--db", str(tmp_path / "db"))
    bad = runner.invoke(app, ["search", "--like", "zzz.png", "--db", str(tmp_path / "db"), "--json"])
    assert bad.exit_code == 1 and "zzz.png" in json.loads(bad.stdout)["error"]


_CLI = [sys.executable, "-m", "tests.fake_model_cli"]


@needs_root
def test_a_read_only_catalog_folder_is_one_clear_line(tmp_path: Path) -> None:
    folder = tmp_path / "imgs"
    make_tree(folder, ["a/1.png"])
    db = tmp_path / "db"
    db.mkdir(mode=0o555)  # not writable, once file modes are obeyed
    run = run_obeying_file_modes([*_CLI, "index", str(folder), "--db", str(db), "--workers", "0"])
    assert run.returncode == 1, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert "Traceback" not in run.stderr
    assert str(db) in lines[0] and "Permission denied" in lines[0]


def _can_mount_tmpfs(where: Path) -> bool:
    where.mkdir()
    ok = (
        os.geteuid() == 0
        and subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=24k", "tmpfs", str(where)], capture_output=True, check=False
        ).returncode
        == 0
    )
    return ok


def test_a_full_disk_is_one_clear_line_and_the_next_run_completes(tmp_path: Path) -> None:
    mnt = tmp_path / "small"
    if not _can_mount_tmpfs(mnt):
        pytest.skip("needs root to mount a small tmpfs")
    try:
        folder = tmp_path / "imgs"
        names = [f"c{i % 3}/{i:02d}.png" for i in range(60)]
        make_tree(folder, names)
        db = mnt / "db"
        full = _index(str(folder), "--db", str(db), "--batch-size", "4")
        assert full.exit_code == 1, full.output
        assert full.stderr.strip() == f"error: cannot write the index at {db}: No space left on device"
        as_json = _index(str(folder), "--db", str(db), "--batch-size", "4", "--json")
        assert json.loads(as_json.stdout)["detail"]["type"] == "StorageError"
        info = runner.invoke(app, ["info", "--db", str(db), "--json"])  # still readable
        assert info.exit_code == 0, info.output
        assert json.loads(info.stdout)["images"] < len(names)

        subprocess.run(["mount", "-o", "remount,size=20m", str(mnt)], check=True)
        done = _index(str(folder), "--db", str(db), "--json")
        assert done.exit_code == 0, done.output
        listed = runner.invoke(app, ["search", "--like", names[0], "--db", str(db), "-k", "100", "--json"])
        paths = {r["path"] for r in json.loads(listed.stdout)["results"]} | {names[0]}
        assert paths == set(names)
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


def test_first_use_export_is_announced_before_it_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    efficientnet = pytest.importorskip("pixseek.models.export.efficientnet")
    from pixseek.errors import ModelNotFoundError
    from pixseek.settings import Settings

    said_before_export: list[str] = []

    def export(name: str, folder: Path) -> None:
        said_before_export.extend(r.getMessage() for r in caplog.records)
        raise ImportError("stop here: the test only checks the announcement")

    monkeypatch.setattr(efficientnet, "export_efficientnet", export)
    with caplog.at_level("INFO", logger="pixseek"), pytest.raises(ModelNotFoundError):
        registry.resolve_model("efficientnet-lite0", settings=Settings(model_cache=tmp_path))
    assert any("efficientnet-lite0" in m and "first use" in m for m in said_before_export), said_before_export
