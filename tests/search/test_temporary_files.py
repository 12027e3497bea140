"""Temporary files a killed writer left are removed by the next build in that folder; a live writer's,
and one still being written, are not."""

from __future__ import annotations

import os
import time
from pathlib import Path

from pixseek.search.compressed import remove_other_versions
from pixseek.search.temporary_files import STALE_SECONDS, remove_dead_temporaries, temporary_path

DEAD = 4_999_999  # above Linux's largest PID (2^22): no process has it


def _left(folder: Path, name: str, *, age: float) -> Path:
    path = folder / name
    path.write_bytes(b"half a vector file")
    then = time.time() - age
    os.utime(path, (then, then))
    return path


def test_only_a_dead_writers_old_temporaries_go(tmp_path: Path) -> None:
    dead_old = _left(tmp_path, f".vectors-v9.f16.{DEAD}.tmp", age=STALE_SECONDS + 60)
    dead_fresh = _left(tmp_path, f".vectors-v9.f16.{DEAD - 1}.tmp", age=5)  # perhaps another machine's
    mine = _left(tmp_path, temporary_path(tmp_path / "ann-v3.faiss").name, age=STALE_SECONDS + 60)
    alive = _left(tmp_path, f".ann-v2.faiss.{os.getppid()}.tmp", age=STALE_SECONDS + 60)
    other = _left(tmp_path, "notes.tmp", age=STALE_SECONDS + 60)
    assert remove_dead_temporaries(tmp_path) == [dead_old]
    assert not dead_old.exists() and all(p.exists() for p in (dead_fresh, mine, alive, other))


def test_a_build_cleans_up_after_one_that_was_killed(tmp_path: Path) -> None:
    left = _left(tmp_path, f".vectors-v9.f16.{DEAD}.tmp", age=STALE_SECONDS + 60)
    remove_other_versions(tmp_path, version=10)  # what a finished build of version 10 runs
    assert not left.exists()
