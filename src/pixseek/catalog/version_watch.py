"""Whether a catalog can have a new version since the last check, without asking Lance every time.

Local catalogs: one stat of the images table's `_versions` folder (about 4 us here) instead of a manifest
read through Lance (0.6 ms a call, and on 2 cores its runtime's threads slowed the search after it: a 2M
search went from 5.1-5.8 to 2.9-4.4 ms without it). Every commit adds a manifest file to that folder,
which moves the folder's mtime. File times come from a coarse clock (a few ms), so a commit in the same
tick as the last check could leave the mtime unchanged: the stat is trusted only once the folder has been
still for `SETTLED_SECONDS` at the time of the check.

Object stores have no folder to stat, and each check is a request (8 ms against a loopback moto_server,
tens of ms against a real store), so they are checked at most once per `interval` seconds: a replica
picks up another process's commit within that bound. Its own writes count at once (`forget`).
"""

from __future__ import annotations

import time
from pathlib import Path

from pixseek.catalog.schema import IMAGES_TABLE
from pixseek.locations import Location, is_object_store

SETTLED_SECONDS = 2.0


class VersionWatch:
    """Call `checking()` just before reading the version through Lance; then `unchanged()` says when no
    commit can have happened since (local), or the last check is recent enough (object store)."""

    def __init__(self, db: Location, *, interval: float = 0.0) -> None:
        self._remote = is_object_store(db)
        self._folder = None if self._remote else Path(db) / f"{IMAGES_TABLE}.lance" / "_versions"
        self._interval = interval
        self._seen: tuple[int, int] | None = None  # (inode, mtime_ns) of a settled folder at the last check
        self._checked_at: float | None = None  # object store: when the last check began (monotonic)

    def _stat(self) -> tuple[int, int] | None:
        if self._folder is None:
            return None
        try:
            info = self._folder.stat()
        except OSError:
            return None
        return info.st_ino, info.st_mtime_ns

    def checking(self) -> None:
        """Remember the catalog as it is now, before the version is read: a commit after this is never
        missed (one between this and the read only costs a needless check)."""
        if self._remote:
            self._checked_at = time.monotonic()
            return
        seen = self._stat()
        settled = seen is not None and time.time() - seen[1] / 1e9 >= SETTLED_SECONDS
        self._seen = seen if settled else None

    def unchanged(self) -> bool:
        """True only when the version need not be read again now."""
        if self._remote:
            return self._checked_at is not None and time.monotonic() - self._checked_at < self._interval
        return self._seen is not None and self._stat() == self._seen

    def forget(self) -> None:
        """The next call checks through Lance (after this process's own commit)."""
        self._seen, self._checked_at = None, None
