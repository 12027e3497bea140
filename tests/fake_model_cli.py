"""Test-only entry point: the real `pixseek` command line, with the fake model in place of every model.

    python -m tests.fake_model_cli index FOLDER --db DB ...

For tests that need the CLI in a real process (another user, a full disk, a signal). FAKE_MODEL_DELAY=S
makes every model call take S seconds longer (a request still in flight when a signal arrives).
"""

from __future__ import annotations

import os
import time

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


if __name__ == "__main__":
    delay = float(os.environ.get("FAKE_MODEL_DELAY", "0"))
    registry.load_embedder = lambda name_or_path=None, *, settings: (
        _SlowFake(delay) if delay else FakeEmbedder()
    )
    main()
