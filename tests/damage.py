"""Damage a saved FAISS index in place: bytes changed while the file's structure holds, so FAISS still
reads it (and would answer from it) and only a digest can tell."""

from __future__ import annotations

import faiss
import numpy as np


def damaged_in_place(data: bytes) -> bytes:
    """`data` with 64 bytes inverted at the first offset from the middle on at which FAISS still reads it."""
    for start in range(len(data) // 2, len(data) - 64, 97):
        damaged = bytearray(data)
        damaged[start : start + 64] = bytes(b ^ 0xFF for b in damaged[start : start + 64])
        try:
            faiss.deserialize_index(np.frombuffer(bytes(damaged), dtype=np.uint8))
        except RuntimeError:
            continue
        return bytes(damaged)
    raise AssertionError("no damage FAISS reads past the middle of this index")
