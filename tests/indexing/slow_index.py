"""Test-only entry point: index a folder with a deliberately slow fake model, in its own process.

    python -m tests.indexing.slow_index DB FOLDER [--delay SECONDS] [--wait SECONDS] [--hold FILE]

Used to SIGKILL a run mid-way and to race two runs; exits 3 with the error on IndexBusyError.
With --hold, the run pauses after its first committed batch for as long as FILE exists.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from pixseek.errors import IndexBusyError
from pixseek.services import Index
from tests.fakes import FakeEmbedder


class SlowFakeEmbedder(FakeEmbedder):
    """The fake model, sleeping per batch so a run lasts long enough to be interrupted."""

    def __init__(self, delay: float, hold: Path | None = None) -> None:
        super().__init__()
        self._delay = delay
        self._hold = hold
        self._calls = 0

    def embed_pixels(self, pixels: np.ndarray) -> np.ndarray:
        self._calls += 1
        while self._hold is not None and self._calls > 1 and self._hold.exists():
            time.sleep(0.02)  # the first batch is committed by now (commit_rows == batch_size)
        time.sleep(self._delay)
        return super().embed_pixels(pixels)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("db")
    parser.add_argument("folder")
    parser.add_argument("--delay", type=float, default=0.2)
    parser.add_argument("--wait", type=float, default=0.0)
    parser.add_argument("--hold", type=Path, default=None)
    args = parser.parse_args()
    index = Index(args.db, embedder=SlowFakeEmbedder(args.delay, args.hold))
    try:
        report = index.add(args.folder, batch_size=2, workers=0, commit_rows=2, lock_timeout=args.wait)
    except IndexBusyError as exc:
        print(f"IndexBusyError: {exc}", file=sys.stderr)
        return 3
    print(json.dumps(report.to_dict()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
