"""`python -m pixseek` and the `pixseek` console script, as real processes, run this checkout's one app."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.subprocess_env import REPO, checkout_env

SRC_PACKAGE = REPO / "src" / "pixseek"
COMMANDS = ("index", "search", "info", "serve", "eval", "classify", "model", "bench")


@pytest.fixture
def decoy_on_callers_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A different `pixseek` on the caller's PYTHONPATH: children must still import the checkout's."""
    decoy = tmp_path / "decoy"
    (decoy / "pixseek").mkdir(parents=True)
    (decoy / "pixseek" / "__init__.py").write_text('raise SystemExit("the decoy pixseek was imported")\n')
    monkeypatch.setenv("PYTHONPATH", str(decoy))
    return decoy


def _run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = checkout_env(COLUMNS="100", NO_COLOR="1", TERM="dumb")  # same layout for both
    return subprocess.run(cmd, check=False, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def _normalised(help_text: str, prog: str) -> list[str]:
    """Click names the program as invoked ("python -m pixseek" / "pixseek"); everything else must match."""
    return [line.replace(prog, "pixseek").rstrip() for line in help_text.splitlines()]


@pytest.mark.usefixtures("decoy_on_callers_path")
def test_children_import_this_checkout_first(tmp_path: Path) -> None:
    code = "import pixseek, sys; sys.stdout.write(pixseek.__file__)"
    result = _run([sys.executable, "-c", code], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout).resolve() == (SRC_PACKAGE / "__init__.py").resolve()


@pytest.mark.usefixtures("decoy_on_callers_path")
def test_python_dash_m_and_console_script_print_the_same_help(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "pixseek"
    assert script.is_file(), f"no console script beside {sys.executable}: is pixseek installed?"
    module = _run([sys.executable, "-m", "pixseek", "--help"], cwd=tmp_path)
    console = _run([str(script), "--help"], cwd=tmp_path)
    assert module.returncode == 0, module.stderr
    assert console.returncode == 0, console.stderr
    assert "python -m pixseek" in module.stdout  # really ran as a module
    assert _normalised(module.stdout, "python -m pixseek") == _normalised(console.stdout, "pixseek")
    for command in COMMANDS:
        assert command in console.stdout
