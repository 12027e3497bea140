"""How the Catalog's methods meet storage: a write turns storage errors into StorageError (after the
write lease's hook), and a read that a concurrent compaction breaks is retried on the latest version."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from pixseek.catalog.schema import META_TABLE, IndexMeta
from pixseek.catalog.storage import read_errors, storage_errors

if TYPE_CHECKING:
    import lancedb

    from pixseek.catalog.store import Catalog

T = TypeVar("T")
READ_ATTEMPTS = 3


def writes(method: Callable[..., T]) -> Callable[..., T]:
    """A Catalog write method whose storage errors become StorageError."""

    @functools.wraps(method)
    def wrapper(self: Catalog, *args: Any, **kwargs: Any) -> T:
        if self.before_write is not None:
            self.before_write()  # e.g. renew the write lease of an object-store catalog
        with storage_errors(self.path):
            return method(self, *args, **kwargs)

    return wrapper


def reads(method: Callable[..., T]) -> Callable[..., T]:
    """A Catalog read that a concurrent writer's compaction can break (it deletes the files of versions
    older than the one it makes, perhaps the one this read began on): retried on the latest version. A read
    that still fails (the store gone or unreachable) is a StorageError."""

    @functools.wraps(method)
    def wrapper(self: Catalog, *args: Any, **kwargs: Any) -> T:
        with read_errors(self.path):
            for attempt in range(READ_ATTEMPTS):
                try:
                    return method(self, *args, **kwargs)
                except (OSError, RuntimeError, ValueError):
                    if attempt == READ_ATTEMPTS - 1:
                        raise
                    with contextlib.suppress(OSError, RuntimeError, ValueError):
                        self.checkout_latest()  # when it fails too, the next try says why
        raise AssertionError("unreachable")

    return wrapper


def retried(read: Callable[[], T]) -> T:
    """`read()` of a small table that every write rewrites and then cleans up, deleting the files of the
    version a reader may have just opened: such a read is tried again on the table as it is now."""
    for _ in range(READ_ATTEMPTS - 1):
        with contextlib.suppress(OSError, RuntimeError):
            return read()
    return read()  # the last try raises its error


def read_meta(conn: lancedb.DBConnection) -> IndexMeta:
    """The metadata row (every run rewrites that table and then compacts it)."""
    return retried(lambda: IndexMeta.from_table(conn.open_table(META_TABLE).to_arrow()))
