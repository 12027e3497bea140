"""The write lock: one indexing run per catalog at a time, across processes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from pixseek.errors import IndexBusyError, StorageError

LOCK_NAME = ".pixseek-write.lock"


@contextmanager
def write_lock(db: Path, *, timeout: float = 0.0) -> Iterator[None]:
    """Hold the catalog's write lock; raise IndexBusyError after `timeout` seconds (0 = fail at once).

    The OS releases the lock when its holder dies, even by SIGKILL, so a crash never wedges an index.
    """
    lock = FileLock(Path(db) / LOCK_NAME, timeout=timeout)
    try:
        lock.acquire()
    except Timeout:
        raise IndexBusyError(
            f"another pixseek process is writing to {db}; wait for it to finish and try again"
        ) from None
    except OSError as exc:  # the lock file cannot be made or opened: a read-only disk, no permission
        raise StorageError(
            f"cannot write the index at {db}: {exc.strerror or exc} (its write lock {LOCK_NAME})"
        ) from None
    try:
        yield
    finally:
        lock.release()
