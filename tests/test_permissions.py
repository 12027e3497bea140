"""As a non-root user (root ignores file modes): an unreadable image and an unreadable folder are reported
per file, and the run still indexes the rest and exits 0."""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.indexing.images import make_tree
from tests.subprocess_env import checkout_env


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A folder 'nobody' can write, right under /tmp: pytest's own temporary root is private (0700), and
    another pytest session may reset its mode at any time."""
    folder = Path(tempfile.mkdtemp(prefix="pixseek-perm-"))
    folder.chmod(0o777)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root and setpriv to drop privileges"
)


@needs_root
def test_unreadable_files_and_folders_are_reported_and_the_rest_indexed(shared_tmp: Path) -> None:
    folder = shared_tmp / "imgs"
    written = make_tree(folder, ["a/ok.png", "a/secret.png", "locked/x.png"])
    written["a/secret.png"].chmod(0o000)
    (folder / "locked").chmod(0o000)
    db = shared_tmp / "db"
    run = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-m",
         "tests.fake_model_cli", "index", str(folder), "--db", str(db), "--workers", "0", "--json"],
        env=checkout_env(HOME="/tmp", PIXSEEK_MODEL_CACHE="/tmp", PYTHONUSERBASE=site.getuserbase()),
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    report = json.loads(run.stdout)
    assert report["added"] == 1
    assert sorted((Path(f["path"]).relative_to(folder).as_posix(), f["error"]) for f in report["failed"]) == [
        ("a/secret.png", "cannot read: Permission denied"),
        ("locked", "cannot list folder: Permission denied"),
    ]
