"""With file modes obeyed (root ignores them): an unreadable image and an unreadable folder are reported
per file, and the run still indexes the rest and exits 0."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.file_modes import needs_root, run_obeying_file_modes
from tests.indexing.images import make_tree


@needs_root
def test_unreadable_files_and_folders_are_reported_and_the_rest_indexed(tmp_path: Path) -> None:
    folder = tmp_path / "imgs"
    written = make_tree(folder, ["a/ok.png", "a/secret.png", "locked/x.png"])
    written["a/secret.png"].chmod(0o000)
    (folder / "locked").chmod(0o000)
    db = tmp_path / "db"
    cli = [sys.executable, "-m", "tests.fake_model_cli"]
    run = run_obeying_file_modes([*cli, "index", str(folder), "--db", str(db), "--workers", "0", "--json"])
    assert run.returncode == 0, run.stdout + run.stderr
    report = json.loads(run.stdout)
    assert report["added"] == 1
    assert sorted((Path(f["path"]).relative_to(folder).as_posix(), f["error"]) for f in report["failed"]) == [
        ("a/secret.png", "cannot read: Permission denied"),
        ("locked", "cannot list folder: Permission denied"),
    ]
