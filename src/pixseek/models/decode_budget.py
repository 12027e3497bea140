"""A pixel budget that threads decoding images share, so memory follows the pictures' sizes, not the count.

Decoding holds about 10 bytes a pixel at its peak (RGBA, composited RGB, grey). Four threads each decoding
a 196-megapixel PNG took 6.8 GB; under a budget they take turns, and one picture larger than the whole
budget still runs, alone.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

DEFAULT_BUDGET = 64_000_000  # pixels decoded at once: about 640 MB at the peak, plus one larger picture


class PixelBudget:
    """Lets a decode of `pixels` start while those in progress and it stay within `limit`, or when nothing
    else is decoding (a picture larger than the budget runs alone rather than never)."""

    def __init__(self, limit: int = DEFAULT_BUDGET) -> None:
        self._limit = limit
        self._used = 0
        self._changed = threading.Condition()

    @contextlib.contextmanager
    def held(self, pixels: int) -> Iterator[None]:
        with self._changed:
            self._changed.wait_for(lambda: self._used == 0 or self._used + pixels <= self._limit)
            self._used += pixels
        try:
            yield
        finally:
            with self._changed:
                self._used -= pixels
                self._changed.notify_all()
