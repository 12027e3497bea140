"""Test-only entry point: index a folder with a fake model, in its own process, pausing where told.

    python -m tests.indexing.slow_index DB FOLDER [--delay SECONDS] [--wait SECONDS]
        [--hold FILE [--hold-after CALLS] [--held FILE]] [--waiting FILE]

Used to SIGKILL a run at a known point and to race runs; exits 3 with the error on IndexBusyError.
Files, not timing, tell the parent where the run is, so a loaded machine cannot make it miss a window:

- `--hold FILE`: model call number CALLS + 1 (default 2) blocks for as long as FILE exists. With
  batch_size == commit_rows == 2, the first CALLS batches (2 * CALLS rows) are committed by then.
- `--held FILE`: created when that pause begins.
- `--waiting FILE`: created when the write lock is found held and the run starts waiting for it
  (seen through filelock's own log of a failed attempt, inside pixseek's real `write_lock`).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

from pixseek.errors import IndexBusyError
from pixseek.services import Index
from tests.fakes import FakeEmbedder


class SlowFakeEmbedder(FakeEmbedder):
    """The fake model, optionally sleeping per batch, and pausing at a set call while a file exists."""

    def __init__(
        self, delay: float, hold: Path | None = None, *, hold_after: int = 1, held: Path | None = None
    ) -> None:
        super().__init__()
        self._delay = delay
        self._hold = hold
        self._hold_after = hold_after
        self._held = held
        self._calls = 0

    def embed_pixels(self, pixels: np.ndarray) -> np.ndarray:
        self._calls += 1
        if self._hold is not None and self._calls == self._hold_after + 1 and self._hold.exists():
            if self._held is not None:
                self._held.touch()  # the earlier batches are committed: the pipeline commits, then embeds
            while self._hold.exists():
                time.sleep(0.02)
        time.sleep(self._delay)
        return super().embed_pixels(pixels)


class _AnnounceLockWait(logging.Handler):
    """Creates `path` when filelock reports a failed attempt, i.e. this process is waiting for the lock."""

    def __init__(self, path: Path) -> None:
        super().__init__(logging.DEBUG)
        self._path = path

    def emit(self, record: logging.LogRecord) -> None:
        if "not acquired" in record.getMessage():
            self._path.touch()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("db")
    parser.add_argument("folder")
    parser.add_argument("--delay", type=float, default=0.2)
    parser.add_argument("--wait", type=float, default=0.0)
    parser.add_argument("--hold", type=Path, default=None)
    parser.add_argument("--hold-after", type=int, default=1)
    parser.add_argument("--held", type=Path, default=None)
    parser.add_argument("--waiting", type=Path, default=None)
    args = parser.parse_args()
    if args.waiting is not None:
        lock_log = logging.getLogger("filelock")
        lock_log.setLevel(logging.DEBUG)
        lock_log.propagate = False
        lock_log.addHandler(_AnnounceLockWait(args.waiting))
    embedder = SlowFakeEmbedder(args.delay, args.hold, hold_after=args.hold_after, held=args.held)
    index = Index(args.db, embedder=embedder)
    try:
        report = index.add(args.folder, batch_size=2, workers=0, commit_rows=2, lock_timeout=args.wait)
    except IndexBusyError as exc:
        print(f"IndexBusyError: {exc}", file=sys.stderr)
        return 3
    print(json.dumps(report.to_dict()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
