"""kill -9 at random moments, a few rounds (slow): after each, the next run leaves the exact set of files,
each vector that of its file, and no orphan versions. 30 rounds: benchmarks/kill_soak.py."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
SCRIPT = Path(__file__).parents[2] / "benchmarks" / "kill_soak.py"


def test_random_kills_then_resume_lose_nothing(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("kill_soak", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = module.kill_soak(rounds=6, seed=1, workdir=tmp_path)
    assert result["rounds_with_problems"] == []
    assert result["killed_mid_run"] >= 1  # at least one kill landed inside a run
    files = result["catalog_files"]
    assert files["max"] <= 3 * files["after_first_index"]  # compaction keeps the folder from growing
