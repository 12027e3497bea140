"""Test-only entry point: the real `pixseek` command line, with the fake model in place of every model.

    python -m tests.fake_model_cli index FOLDER --db DB ...

For tests that need the CLI in a real process (another user, a full disk, a signal).
"""

from __future__ import annotations

import pixseek.models.registry as registry
from pixseek.cli import main
from tests.fakes import FakeEmbedder

if __name__ == "__main__":
    registry.load_embedder = lambda name_or_path=None, *, settings: FakeEmbedder()
    main()
