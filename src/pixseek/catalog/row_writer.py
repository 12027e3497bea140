"""Rows appended to an object-store catalog by the workers that embedded them, not by the driver.

At scale the driver's commits are the ceiling (docs/scaling.md): every vector would cross the network to
it. A worker instead appends its own rows. Lance commits appends with a conditional put, so concurrent
appends from many workers are safe, and each is atomic: a killed worker leaves no half-written rows. Each
append is fenced by the run's lease, so a run that lost it stops instead of writing on.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import lancedb
import numpy as np

from pixseek.catalog.lease import check_held
from pixseek.catalog.schema import IMAGES_TABLE, ImageRecord, rows_table
from pixseek.catalog.storage import storage_errors


@dataclass(frozen=True)
class RowWriter:
    """Picklable: a catalog URI and the lease owner of the run; each worker connects once, lazily."""

    uri: str
    lease_owner: str
    dim: int

    @functools.cached_property
    def _conn(self) -> Any:
        return lancedb.connect(self.uri)

    def append(self, records: list[ImageRecord], vectors: np.ndarray) -> None:
        """One atomic commit of new rows. Idempotent: a row whose id is already there is skipped, so a
        task that Ray retries after its worker died (perhaps after this commit) adds nothing twice."""
        if not records:
            return
        check_held(self._conn, self.lease_owner)
        with storage_errors(self.uri):
            table = self._conn.open_table(IMAGES_TABLE)
            table.merge_insert("id").when_not_matched_insert_all().execute(
                rows_table(records, vectors, self.dim)
            )

    def __getstate__(self) -> dict[str, object]:
        return {"uri": self.uri, "lease_owner": self.lease_owner, "dim": self.dim}  # never the connection

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
