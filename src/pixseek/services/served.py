"""The catalog behind an Index and the version of it held in memory: opened when it exists, re-read when
another process commits, shared by the web server's request threads."""

from __future__ import annotations

import threading

from pixseek.catalog import Catalog
from pixseek.catalog.version_watch import VersionWatch
from pixseek.errors import SchemaVersionError
from pixseek.locations import Location
from pixseek.search import SearchMatrix
from pixseek.search.ann import saved_for
from pixseek.services.loading import load_matrix
from pixseek.settings import Settings


class ServedCatalog:
    """The catalog at `db` (None until one exists) and its latest version's matrix, reloaded after a
    commit (one cheap version check per call, at most every settings.version_check_seconds)."""

    def __init__(self, db: Location, settings: Settings) -> None:
        self.db, self.settings = db, settings
        self.opened: Catalog | None = None
        self.loaded: SearchMatrix | None = None
        self._open_error: SchemaVersionError | None = None
        self._refresh_lock = threading.Lock()
        self._version_watch = VersionWatch(db, interval=settings.version_check_seconds)
        if Catalog.exists(db):
            try:
                self.opened = Catalog.open(db)
            except SchemaVersionError as exc:  # `add` may still migrate it under the write lock
                self._open_error = exc

    def catalog(self) -> Catalog:
        """The catalog, opened now if another process created it since; else its clear error."""
        if self._open_error is not None:
            raise self._open_error
        if self.opened is None:
            self.opened = Catalog.open(self.db)
        return self.opened

    def writing(self, catalog: Catalog) -> None:
        """`catalog` is the one this process opened (or migrated) to write."""
        self.opened, self._open_error = catalog, None

    def committed(self) -> None:
        """This process committed: the next call reads the new version without waiting for the watch."""
        self._version_watch.forget()

    def refresh(self) -> bool:
        """Reload the matrix if the catalog version changed. Thread-safe: only one thread reloads."""
        with self._refresh_lock:
            return self._refresh()

    def _refresh(self) -> bool:
        catalog = self.catalog()
        loaded = self.loaded
        if loaded is not None and loaded.ann_delta is None and self._version_watch.unchanged():
            return False  # one stat said no commit can have happened since the last check
        self._version_watch.checking()
        if loaded is not None and loaded.version == catalog.version():
            if loaded.ann_delta is not None and saved_for(self.db, loaded.version):
                loaded.forget_ann()  # a rebuild for this very version landed: the next search loads it
            return False
        self.loaded = load_matrix(catalog, self.db, self.settings)
        return True

    def matrix(self) -> SearchMatrix:
        """The current version's matrix; each public Index method calls this once, so checks once."""
        self.refresh()
        assert self.loaded is not None
        return self.loaded

    def close(self) -> None:
        self.loaded = None
        self.opened = None
