"""Real processes: SIGKILL mid-run then resume, and runs racing for one index.

The children run this checkout's code (src first on PYTHONPATH) and say where they are through files
(see slow_index.py), so the parent acts at a known point however loaded the machine is.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pixseek.catalog import Catalog, write_lock
from pixseek.errors import IndexBusyError
from pixseek.services import Index
from tests.fakes import FakeEmbedder
from tests.indexing.images import make_tree
from tests.subprocess_env import REPO, checkout_env

N_FILES = 24
HOLD_AFTER = 4  # model calls (2 images each) finished before the run pauses


def _start(
    db: Path,
    folder: Path,
    *,
    delay: float = 0.0,
    wait: float = 0.0,
    hold: Path | None = None,
    hold_after: int = 1,
    held: Path | None = None,
    waiting: Path | None = None,
) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "tests.indexing.slow_index", str(db), str(folder)]
    cmd += ["--delay", str(delay), "--wait", str(wait)]
    if hold is not None:
        cmd += ["--hold", str(hold), "--hold-after", str(hold_after)]
    for flag, path in (("--held", held), ("--waiting", waiting)):
        if path is not None:
            cmd += [flag, str(path)]
    pipe = subprocess.PIPE
    return subprocess.Popen(cmd, cwd=REPO, env=checkout_env(), stdout=pipe, stderr=pipe, text=True)


def _wait_for_file(path: Path, proc: subprocess.Popen[str], timeout: float = 120) -> None:
    """Until the child creates `path`; it must still be running then."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, f"child exited before creating {path.name}: {proc.communicate()}"
        assert time.monotonic() < deadline, f"child did not create {path.name} within {timeout} s"
        time.sleep(0.02)
    assert proc.poll() is None, f"child exited right after creating {path.name}: {proc.communicate()}"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "imgs"
    make_tree(root, [f"c{i % 4}/{i:02d}.png" for i in range(N_FILES)])
    return root


def test_kill_9_mid_run_then_resume(tmp_path: Path, folder: Path) -> None:
    db, hold, held = tmp_path / "db", tmp_path / "hold", tmp_path / "held"
    hold.touch()
    proc = _start(db, folder, hold=hold, hold_after=HOLD_AFTER, held=held)
    _wait_for_file(held, proc)  # paused inside model call HOLD_AFTER + 1, that batch in flight
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert proc.returncode == -signal.SIGKILL

    committed = Catalog.open(db).snapshot()  # readable after the kill
    # Batches commit every 2 rows; a time-based flush (2 s idle) can split one, leaving a row pending.
    assert 2 * HOLD_AFTER - 1 <= len(committed.ids) <= 2 * HOLD_AFTER
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
        time.sleep(pause + 2.0)  # deliberately by time: start-up, catalog creation, mid-run
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        if Catalog.exists(db):
            snap = Catalog.open(db).snapshot()
            assert len(set(snap.paths)) == len(snap.paths)
    report = Index(db, embedder=FakeEmbedder()).add(folder, workers=0)
    assert report.added + report.unchanged == N_FILES and report.failed == []
    assert len(Index(db, embedder=FakeEmbedder()).arrays().ids) == N_FILES


def test_concurrent_runs_do_not_corrupt(tmp_path: Path, folder: Path) -> None:
    db, hold, held, waiting = (tmp_path / n for n in ("db", "hold", "held", "waiting"))
    hold.touch()
    first = _start(db, folder, hold=hold, held=held)  # pauses after its first batch, holding the lock
    _wait_for_file(held, first)
    with pytest.raises(IndexBusyError), write_lock(db, timeout=0):
        pass  # the lock is really held (by the first run), not merely slow to take

    second = _start(db, folder)  # no waiting: must refuse, not interleave
    _, err = second.communicate(timeout=60)
    assert second.returncode == 3, err
    assert "another pixseek process is writing" in err

    third = _start(db, folder, wait=120, waiting=waiting)  # waits for the lock, then finds nothing to do
    _wait_for_file(waiting, third)  # it tried the lock, failed, and is waiting: not merely alive
    assert 1 <= Catalog.open(db).count() <= 2  # only the first's first batch, while it holds the lock
    hold.unlink()
    out_first, err_first = first.communicate(timeout=120)
    out_third, err_third = third.communicate(timeout=120)
    assert first.returncode == 0, err_first
    assert third.returncode == 0, err_third
    assert json.loads(out_first)["added"] == N_FILES
    assert json.loads(out_third)["unchanged"] == N_FILES
    snap = Catalog.open(db).snapshot()
    assert sorted(snap.paths) == sorted(f"c{i % 4}/{i:02d}.png" for i in range(N_FILES))
