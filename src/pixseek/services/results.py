"""What `pixseek.Index` returns besides search hits: info, readiness, and the arrays evaluation reads."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from pixseek.locations import root_key
from pixseek.search import SearchMatrix


@dataclass(frozen=True)
class Readiness:
    """The catalog version a reader serves, its size and model, and its ANN state (unused, pending, ready)."""

    version: int
    images: int
    model: str
    ann: str
    ann_delta: int = 0  # rows added, changed or deleted since the ANN index's build, searched exactly
    ann_cached: float | None = None  # share of the vector file read into the page cache (None: not read)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class IndexInfo:
    """What `pixseek info` reports."""

    images: int
    model: str
    dim: int
    bytes_on_disk: int
    last_indexed: str | None  # ISO 8601 UTC
    # {"method", "trained_on", "classes" (their names), "created", "strength", "neighbours", "mix"} when one
    # is active (QueryAdapter.info)
    adapter: dict | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class IndexArrays:
    """Everything evaluation needs, in one read; `vectors` is (N, D) float32, L2-normalised, read-only."""

    ids: list[str]
    paths: list[str]
    labels: list[str | None]
    vectors: np.ndarray


def arrays_of(m: SearchMatrix, root: str | Path | None) -> IndexArrays:
    """All rows of `m`, or only those indexed from `root` (an index may hold several folders)."""
    if root is None:
        every = m.vectors if m.vectors is not None else m.row_vectors(np.arange(len(m)))
        return IndexArrays(list(m.ids), list(m.paths), list(m.labels), every)
    wanted = root_key(root)
    rows = [i for i, r in enumerate(m.roots) if r == wanted]
    vectors = m.row_vectors(np.array(rows, dtype=np.int64))
    picked = ([m.ids[i] for i in rows], [m.paths[i] for i in rows], [m.labels[i] for i in rows])
    return IndexArrays(*picked, vectors)
