"""Run a command that obeys file modes although the tests run as root.

Root ignores file modes through two capabilities. Dropping just those (and staying uid 0) makes root an
ordinary owner, so a file the test chmods to 000 is unreadable, while the interpreter and its packages,
wherever pip put them (a private /root included), still import. Switching to 'nobody' instead breaks on
machines whose Python lives under a private /root.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.subprocess_env import checkout_env

_NO_OVERRIDE = "-dac_override,-dac_read_search"

needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root and setpriv to drop capabilities"
)


def run_obeying_file_modes(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    """Run cmd as root without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH, this checkout first on the path."""
    return subprocess.run(
        ["setpriv", f"--bounding-set={_NO_OVERRIDE}", f"--inh-caps={_NO_OVERRIDE}", *cmd],
        env=checkout_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def refuse_writes_in(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """Make every file opened for writing directly in `folder` fail as a read-only mount would, for root
    too (who ignores file modes)."""
    real_open = Path.open

    def refusing(self: Path, mode: str = "r", *args: object, **kwargs: object):
        if "w" in mode and self.parent == folder:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, mode, *args, **kwargs)

    monkeypatch.setattr(Path, "open", refusing)
