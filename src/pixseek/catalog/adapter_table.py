"""The adapter table: at most one trained query adapter per catalog, versioned by Lance like the images.

Kept apart from the images so adapting never rewrites (or re-embeds) a row, and tied to the model
fingerprint it was trained on."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

ADAPTER_TABLE = "adapter"

ADAPTER_SCHEMA = pa.schema(
    [
        pa.field("method", pa.string(), nullable=False),
        pa.field("fingerprint", pa.string(), nullable=False),  # the model's, so another model's is refused
        pa.field("classes", pa.list_(pa.string()), nullable=False),
        pa.field("trained_on", pa.int64(), nullable=False),  # images
        pa.field("created", pa.string(), nullable=False),  # ISO 8601 UTC
        pa.field("dim", pa.int32(), nullable=False),  # the matrix's columns
        pa.field("matrix", pa.list_(pa.float32()), nullable=False),  # rows x (its length / rows), row-major
        # Added with the class-direction method; a table written before has neither (a square matrix, no
        # strength), and reads as it did.
        pa.field("rows", pa.int32(), nullable=True),
        pa.field("strength", pa.float32(), nullable=True),
        # Added with class-posterior's smoothing; a table written before has neither, and reads as
        # unsmoothed, as it was trained.
        pa.field("neighbours", pa.int32(), nullable=True),
        pa.field("mix", pa.float32(), nullable=True),
    ]
)


@dataclass(frozen=True)
class AdapterRecord:
    """A stored adapter: how it was trained, its matrix (whose shape the method sets) and its strength."""

    method: str
    fingerprint: str
    classes: tuple[str, ...]
    trained_on: int
    created: str
    matrix: np.ndarray
    strength: float = 0.0
    neighbours: int = 0
    mix: float = 0.0

    def to_table(self) -> pa.Table:
        dim = self.matrix.shape[1]
        flat = np.ascontiguousarray(self.matrix, dtype=np.float32).reshape(-1)
        row = {
            "method": [self.method],
            "fingerprint": [self.fingerprint],
            "classes": [list(self.classes)],
            "trained_on": [self.trained_on],
            "created": [self.created],
            "dim": [dim],
            "matrix": [flat],
            "rows": [self.matrix.shape[0]],
            "strength": [self.strength],
            "neighbours": [self.neighbours],
            "mix": [self.mix],
        }
        return pa.Table.from_pydict(row, schema=ADAPTER_SCHEMA)

    @classmethod
    def from_table(cls, table: pa.Table) -> AdapterRecord | None:
        rows = table.to_pylist()
        if not rows:
            return None
        row = rows[-1]
        matrix_rows = row.get("rows") or int(row["dim"])
        matrix = np.asarray(row["matrix"], dtype=np.float32).reshape(matrix_rows, -1)
        return cls(
            row["method"],
            row["fingerprint"],
            tuple(row["classes"]),
            int(row["trained_on"]),
            row["created"],
            matrix,
            float(row.get("strength") or 0.0),
            int(row.get("neighbours") or 0),
            float(row.get("mix") or 0.0),
        )
