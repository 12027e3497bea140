"""The environment for test subprocesses: they must import this checkout's pixseek, never an installed one."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def checkout_env(**extra: str) -> dict[str, str]:
    """os.environ with this checkout's src (then the repo root, for `tests.*`) first on PYTHONPATH."""
    inherited = os.environ.get("PYTHONPATH")
    path = os.pathsep.join([str(REPO / "src"), str(REPO), *([inherited] if inherited else [])])
    return {**os.environ, "PYTHONPATH": path, **extra}
