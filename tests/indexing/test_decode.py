"""decode_stream in-process: results in input order, two decode threads at once, a bounded window."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np

from pixseek.errors import ImageReadError
from pixseek.indexing.decode import decode_stream
from pixseek.types import LoadedImage


class SlowLoader:
    """Decodes file i in (n - i) ms, so later files would finish first if order were not kept; records
    how many decodes ran at once."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.running = 0
        self.most_at_once = 0
        self.lock = threading.Lock()

    def __call__(self, path: Path) -> LoadedImage:
        i = int(path.stem)
        with self.lock:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        time.sleep((self.n - i) / 1000)
        with self.lock:
            self.running -= 1
        if i == 3:
            raise ImageReadError(path, "broken on purpose")
        return LoadedImage(np.full((3, 2, 2), i, np.float32), width=i, height=1)


def test_in_process_decoding_keeps_input_order_and_runs_two_threads() -> None:
    n = 20
    loader = SlowLoader(n)
    paths = [Path(f"{i}.jpg") for i in range(n)]
    results = list(decode_stream(paths, loader, workers=0, prefetch=8))
    assert [r.width for r in results if isinstance(r, LoadedImage)] == [i for i in range(n) if i != 3]
    assert isinstance(results[3], ImageReadError) and results[3].reason == "broken on purpose"
    assert loader.most_at_once == 2  # the in-process pool: two threads, never more


def test_at_most_prefetch_files_are_taken_ahead() -> None:
    taken: list[int] = []
    stream = decode_stream(_Counted(taken, 50), SlowLoader(50), workers=0, prefetch=5)
    first = next(stream)
    assert isinstance(first, LoadedImage) and first.width == 0
    assert len(taken) <= 5  # memory stays bounded: the rest of the folder is not yet submitted
    stream.close()


class _Counted:
    """A sequence that records which items decode_stream has taken."""

    def __init__(self, taken: list[int], n: int) -> None:
        self.taken, self.n = taken, n

    def __len__(self) -> int:
        return self.n

    def __iter__(self):
        for i in range(self.n):
            self.taken.append(i)
            yield Path(f"{i}.jpg")
