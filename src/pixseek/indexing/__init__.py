"""Indexing: scan a folder, work out what changed, embed what is new, commit in crash-safe batches.

The pipeline loads on first use (PEP 562): a decode worker or Ray actor imports only the modules it
runs, not LanceDB. `scan` is imported now, since the function shares its submodule's name.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from pixseek.indexing.report import IndexReport
from pixseek.indexing.scan import IMAGE_EXTENSIONS, FileEntry, scan

if TYPE_CHECKING:
    from pixseek.indexing.pipeline import RunOptions, run_index

_LAZY = {"RunOptions", "run_index"}
__all__ = ["IMAGE_EXTENSIONS", "FileEntry", "IndexReport", "RunOptions", "run_index", "scan"]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module("pixseek.indexing.pipeline"), name)
