"""Test-only entry point: the real `pixseek` command line, with the fake model in place of every model.

    python -m tests.fake_model_cli index FOLDER --db DB ...

For tests that need the CLI in a real process (another user, a full disk, a signal). FAKE_MODEL_DELAY=S
makes every model call take S seconds longer (a request still in flight when a signal arrives).
KILL_IN_COMPACTION=S kills the process with SIGKILL S seconds after the images table's compaction starts,
having first created the file KILL_MARKER (so the test knows the kill was aimed at compaction).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import lancedb.table
import numpy as np

import pixseek.models.registry as registry
from pixseek.cli import main
from tests.fakes import FakeEmbedder


class _SlowFake(FakeEmbedder):
    def __init__(self, delay: float) -> None:
        super().__init__()
        self._delay = delay

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        time.sleep(self._delay)
        return super().embed_texts(texts)


def _kill_during_compaction(after: float, marker: Path) -> None:
    real_optimize = lancedb.table.LanceTable.optimize

    def optimize(self: lancedb.table.LanceTable, *args: object, **kwargs: object) -> object:
        if self.name == "images":
            marker.touch()
            threading.Timer(after, os.kill, (os.getpid(), signal.SIGKILL)).start()
        return real_optimize(self, *args, **kwargs)

    lancedb.table.LanceTable.optimize = optimize  # type: ignore[method-assign]


if __name__ == "__main__":
    if "KILL_IN_COMPACTION" in os.environ:
        _kill_during_compaction(float(os.environ["KILL_IN_COMPACTION"]), Path(os.environ["KILL_MARKER"]))
    delay = float(os.environ.get("FAKE_MODEL_DELAY", "0"))
    registry.load_embedder = lambda name_or_path=None, *, settings: (
        _SlowFake(delay) if delay else FakeEmbedder()
    )
    main()
