"""SIGKILL aimed at the compaction that ends every run: the catalog stays whole and the next run finishes
without re-embedding anything. The kill lands at several points inside compaction, measured from the
moment the images table's optimize starts (a marker file proves the run got there)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from pixseek.services import Index
from tests.fakes import FakeEmbedder
from tests.indexing.images import make_tree
from tests.subprocess_env import REPO, checkout_env

FILES = [f"{label}/{i}.png" for label in ("a", "b", "c") for i in range(10)]


def _index(db: Path, folder: Path, **env: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "tests.fake_model_cli", "index", str(folder), "--db", str(db)]
    cmd += ["--workers", "0", "--batch-size", "2", "--json"]  # 15 commits: compaction has work to do
    env_vars = checkout_env(**env)
    return subprocess.run(
        cmd, cwd=REPO, env=env_vars, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.mark.parametrize("after", [0.0, 0.005, 0.02, 0.08])
def test_a_kill_inside_compaction_loses_nothing(tmp_path: Path, after: float) -> None:
    folder, db, marker = tmp_path / "imgs", tmp_path / "db", tmp_path / "compacting"
    make_tree(folder, FILES)
    killed = _index(db, folder, KILL_IN_COMPACTION=str(after), KILL_MARKER=str(marker))
    assert marker.exists(), killed.stderr  # the kill was aimed at compaction
    assert killed.returncode in (-signal.SIGKILL, 0), killed.stderr  # 0: compaction beat the timer
    index = Index(db, embedder=FakeEmbedder())
    assert index.info().images == len(FILES)  # every batch was committed before compaction began
    assert sorted(index.arrays().paths) == sorted(FILES)
    hits = index.search(like="b/3.png", k=3)
    assert len(hits) == 3 and "b/3.png" not in [h.path for h in hits]
    again = _index(db, folder)
    assert again.returncode == 0, again.stderr
    report = json.loads(again.stdout)
    assert (report["added"], report["unchanged"], report["embedded"]) == (0, len(FILES), 0)
