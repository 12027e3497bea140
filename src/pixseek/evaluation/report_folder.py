"""Where `pixseek eval` writes its report: checked before the study runs, and written whole or not at all.

Written in place, a report was lost to a full disk (report.json cut off at 8 KB) and a killed run left
0-byte plots beside the last run's files. Now the files are written into a staging folder inside OUT and
moved into place once every one is whole, so a failure leaves the previous report as it was.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from pixseek.errors import StorageError
from pixseek.search.temporary_files import remove_dead_temporaries


def check_report_folder(out: Path) -> None:
    """StorageError now, not after minutes of study, when OUT cannot hold a report (a file, no permission,
    a read-only or full file system)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as exc:
        raise StorageError(f"cannot write the report in {out}: {exc.strerror or exc}") from None


@contextlib.contextmanager
def staged_report(out: Path) -> Iterator[Path]:
    """A folder to write the report's files into; once the block ends they replace OUT's files of the same
    names, and if it fails none do (a StorageError names OUT for a file-system failure)."""
    staging = out / f".report.{os.getpid()}.tmp"
    try:
        out.mkdir(parents=True, exist_ok=True)
        remove_dead_temporaries(out)  # what a killed run left
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        yield staging
        for path in sorted(staging.iterdir()):
            path.replace(out / path.name)  # a rename: needs no space
    except OSError as exc:
        raise StorageError(f"cannot write the report in {out}: {exc.strerror or exc}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
