"""Temporary files a killed writer left are removed by the next build in that folder; a live writer's,
and one still being written, are not."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from pixseek.search import ann
from pixseek.search.compressed import remove_other_versions
from pixseek.search.temporary_files import remove_dead_temporaries, temporary_path

DEAD = 4_999_999  # above Linux's largest PID (2^22): no process has it
OLD = 600.0  # seconds: well past the 2 minutes a writer may pause
FRESH = 5.0  # seconds: a writer still at work


def _left(folder: Path, name: str, *, age: float) -> Path:
    path = folder / name
    path.write_bytes(b"half a vector file")
    then = time.time() - age
    os.utime(path, (then, then))
    return path


def test_only_a_dead_writers_old_temporaries_go(tmp_path: Path) -> None:
    dead_old = _left(tmp_path, f".vectors-v9.f16.{DEAD}.tmp", age=OLD)
    dead_fresh = _left(tmp_path, f".vectors-v9.f16.{DEAD - 1}.tmp", age=FRESH)  # perhaps another machine's
    mine = _left(tmp_path, temporary_path(tmp_path / "ann-v3.faiss").name, age=OLD)
    alive = _left(tmp_path, f".ann-v2.faiss.{os.getppid()}.tmp", age=OLD)
    other = _left(tmp_path, "notes.tmp", age=OLD)
    assert remove_dead_temporaries(tmp_path) == [dead_old]
    assert not dead_old.exists() and all(p.exists() for p in (dead_fresh, mine, alive, other))


def test_a_build_cleans_up_after_one_that_was_killed(tmp_path: Path) -> None:
    left = _left(tmp_path, f".vectors-v9.f16.{DEAD}.tmp", age=OLD)
    remove_other_versions(tmp_path, version=10)  # what a finished build of version 10 runs
    assert not left.exists()


def test_saving_an_ivf_index_cleans_up_after_one_that_was_killed(tmp_path: Path) -> None:
    left = _left(tmp_path, f".ann-v1.faiss.{DEAD}.tmp", age=OLD)
    vectors = np.random.default_rng(0).standard_normal((2000, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ann.load_or_build(vectors, tmp_path, 2)
    assert (tmp_path / "ann-v2.faiss").is_file() and not left.exists()


def test_a_killed_eval_runs_staging_folder_goes_too(tmp_path: Path) -> None:
    staging = tmp_path / f".report.{DEAD}.tmp"
    staging.mkdir()
    (staging / "report.json").write_text("{")
    then = time.time() - OLD
    os.utime(staging, (then, then))
    assert remove_dead_temporaries(tmp_path) == [staging]
    assert not staging.exists()
