"""Real processes: SIGKILL mid-run then resume, and two runs racing for one index."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pixseek.catalog import Catalog
from pixseek.services import Index
from tests.fakes import FakeEmbedder
from tests.indexing.images import make_tree

REPO = Path(__file__).resolve().parents[2]
N_FILES = 24


def _start(
    db: Path, folder: Path, *, delay: float, wait: float = 0.0, hold: Path | None = None
) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "tests.indexing.slow_index", str(db), str(folder)]
    cmd += ["--delay", str(delay), "--wait", str(wait)] + (["--hold", str(hold)] if hold else [])
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    pipe = subprocess.PIPE
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=pipe, stderr=pipe, text=True)


def _rows(db: Path) -> int:
    if not Catalog.exists(db):
        return 0
    return Catalog.open(db).count()


def _wait_for_rows(db: Path, at_least: int, proc: subprocess.Popen[str], timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"indexer exited early: {proc.communicate()}"
        n = _rows(db)
        if n >= at_least:
            return n
        time.sleep(0.05)
    raise AssertionError(f"no {at_least} committed rows after {timeout} s")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "imgs"
    make_tree(root, [f"c{i % 4}/{i:02d}.png" for i in range(N_FILES)])
    return root


def test_kill_9_mid_run_then_resume(tmp_path: Path, folder: Path) -> None:
    db = tmp_path / "db"
    proc = _start(db, folder, delay=0.25)
    _wait_for_rows(db, 6, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert proc.returncode == -signal.SIGKILL

    committed = Catalog.open(db).snapshot()  # readable after the kill
    assert 6 <= len(committed.ids) < N_FILES
    assert len(set(committed.paths)) == len(committed.paths)

    emb = FakeEmbedder()
    index = Index(db, embedder=emb)
    report = index.add(folder, workers=0)
    assert report.unchanged == len(committed.ids)  # committed rows are not redone
    assert report.added == N_FILES - len(committed.ids)
    assert emb.pixel_calls == N_FILES - len(committed.ids)
    arrays = index.arrays()
    assert sorted(arrays.paths) == sorted(f"c{i % 4}/{i:02d}.png" for i in range(N_FILES))
    assert set(committed.ids) <= set(arrays.ids)


@pytest.mark.slow
def test_repeated_kills_at_different_moments(tmp_path: Path, folder: Path) -> None:
    db = tmp_path / "db"
    for pause in (0.0, 0.7, 1.9, 3.1):
        proc = _start(db, folder, delay=0.2)
        time.sleep(pause + 2.0)  # the first ~2 s are interpreter start-up and imports
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        if Catalog.exists(db):
            snap = Catalog.open(db).snapshot()
            assert len(set(snap.paths)) == len(snap.paths)
    report = Index(db, embedder=FakeEmbedder()).add(folder, workers=0)
    assert report.added + report.unchanged == N_FILES and report.failed == []
    assert len(Index(db, embedder=FakeEmbedder()).arrays().ids) == N_FILES


def test_concurrent_runs_do_not_corrupt(tmp_path: Path, folder: Path) -> None:
    db = tmp_path / "db"
    hold = tmp_path / "hold"
    hold.touch()
    first = _start(db, folder, delay=0.0, hold=hold)  # pauses mid-run, holding the lock, until released
    _wait_for_rows(db, 2, first)
    second = _start(db, folder, delay=0.0)  # no waiting: must refuse, not interleave
    _, err = second.communicate(timeout=60)
    assert second.returncode == 3, err
    assert "another pixseek process is writing" in err
    third = _start(db, folder, delay=0.0, wait=120)  # waits for the lock, then finds nothing to do
    time.sleep(1.0)  # let it start and block on the lock
    assert third.poll() is None
    hold.unlink()
    out_first, err_first = first.communicate(timeout=120)
    out_third, err_third = third.communicate(timeout=120)
    assert first.returncode == 0, err_first
    assert third.returncode == 0, err_third
    assert json.loads(out_first)["added"] == N_FILES
    assert json.loads(out_third)["unchanged"] == N_FILES
    snap = Catalog.open(db).snapshot()
    assert sorted(snap.paths) == sorted(f"c{i % 4}/{i:02d}.png" for i in range(N_FILES))
