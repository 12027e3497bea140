"""Files written beside what they become (`.NAME.PID.tmp`, renamed into place once whole), and the cleanup
of those a killed writer left behind: a past-RAM build killed mid-write left one the size of the vector
file, and no later run removed it."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

# A temporary file nobody has written to for this long, whose writer is not a live process here, is left
# over. The wait spares a writer on another machine that shares the folder (its PID means nothing here).
STALE_SECONDS = 120.0


def temporary_path(path: Path) -> Path:
    """Where this process writes `path` before renaming it into place."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def remove_dead_temporaries(folder: Path, *, now: float | None = None) -> list[Path]:
    """Delete the `.NAME.PID.tmp` files (or staging folders) in `folder` whose writer is gone; returns what
    was deleted."""
    now = time.time() if now is None else now
    removed = []
    for tmp in folder.glob(".*.tmp"):
        pid = tmp.name.removesuffix(".tmp").rpartition(".")[2]
        if not pid.isdigit() or int(pid) == os.getpid() or _alive(int(pid)):
            continue
        try:
            if now - tmp.stat().st_mtime < STALE_SECONDS:
                continue
            if tmp.is_dir():  # a staging folder (evaluation.report_folder)
                shutil.rmtree(tmp)
            else:
                tmp.unlink()
        except FileNotFoundError:  # another process cleaned it up first
            continue
        removed.append(tmp)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # another user's process; or not a PID at all, so leave it be
    return True
