"""The soak at its short length (slow): 60 s of 32 clients against a real `pixseek serve` while a real
`pixseek index` loop adds and removes files. No 5xx, no dropped connection, no leaked file descriptor.
The 10-minute run and its latency and memory figures: benchmarks/soak.py."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
SOAK = Path(__file__).parents[2] / "benchmarks" / "soak.py"


def test_a_minute_of_mixed_load_while_the_index_changes() -> None:
    spec = importlib.util.spec_from_file_location("soak", SOAK)
    assert spec is not None and spec.loader is not None
    soak = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(soak)
    result = soak.soak(minutes=1.0, clients=32)
    assert result["requests"] > 100
    assert result["5xx"] == 0, result["routes"]
    assert result["connection_errors"] == 0, result["first_errors"]
    assert result["index_runs"] >= 2 and result["index_failures"] == 0
    assert result["open_fds"]["end"] <= result["open_fds"]["after_warmup"] + 5  # nothing leaks per request
