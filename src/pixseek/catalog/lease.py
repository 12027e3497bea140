"""The write lock of a catalog in an object store: a lease table created with Lance's conditional put.

No file lock works across machines. Lance creates a table's first version with a put-if-absent, so of two
writers creating the lease table at once exactly one makes version 1; the other sees the holder and its
expiry, or, when Lance retried its create as an overwrite at version 2, gives up and restores version 1,
so the first one goes on (if its fence ran in between, it stops instead: never two writers at once).
The holder renews the lease as it commits and drops it when done; a lease whose writer died (kill -9)
expires after `ttl` seconds, or at once when that writer ran on this machine, and the next run takes over.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import lancedb
import pyarrow as pa

from pixseek.catalog.storage import short_cause
from pixseek.errors import IndexBusyError, StorageError

LEASE_TABLE = "write-lease"
DEFAULT_TTL = 60.0  # seconds without a renewal before another writer may take over
RENEW_EVERY = 10.0  # seconds between renewals while a writer works without committing its own rows
RESTORE_SETTLE = 1.0  # seconds a fence waits for a racing creator to give the lease back (check_held)


class Lease:
    """A held lease; `renew()` pushes its expiry `ttl` seconds ahead (one small Lance append)."""

    def __init__(self, conn: lancedb.DBConnection, owner: str, ttl: float) -> None:
        self._conn, self.owner, self._ttl = conn, owner, ttl

    def renew(self) -> None:
        """Called before each commit: a writer whose lease was taken over must stop, not write on."""
        check_held(self._conn, self.owner)
        self._conn.open_table(LEASE_TABLE).add(_row(self.owner, self._ttl))


def check_held(conn: lancedb.DBConnection, owner: str, *, settle: float = RESTORE_SETTLE) -> None:
    """IndexBusyError unless `owner` still holds the catalog's lease (the fence before every write).

    Another name on the lease is read again after `settle` seconds: a writer that lost the race to create
    it shows its own row until it restores ours (`_give_back`, milliseconds later). Stopping on the first
    read left the lease naming a writer that had already stopped, so others waited out its time."""
    held = _holder(conn)
    if held is not None and held[0] != owner:
        time.sleep(settle)
        held = _holder(conn)
    if held is None or held[0] != owner:
        raise IndexBusyError(
            f"this run lost its write lease (now held by {held[0] if held else 'nobody'}); "
            "another writer took over after it went more than the lease's time without a commit"
        )


def _row(owner: str, ttl: float) -> pa.Table:
    return pa.table({"owner": [owner], "expires": [time.time() + ttl]})


def _holder(conn: lancedb.DBConnection) -> tuple[str, float] | None:
    """(owner, expiry) of the lease on record, or None if there is none."""
    try:
        rows = conn.open_table(LEASE_TABLE).to_arrow().to_pylist()
    except (ValueError, FileNotFoundError, OSError, RuntimeError):
        return None
    if not rows:
        return None
    latest = max(rows, key=lambda r: r["expires"])
    owners = {r["owner"] for r in rows}
    return (latest["owner"] if len(owners) == 1 else "several writers"), latest["expires"]


def _give_back(conn: lancedb.DBConnection, spoiled: lancedb.table.Table) -> None:
    """Undo a create that Lance retried as an overwrite: restore version 1, the row of the writer whose
    put-if-absent won, so that writer goes on. If the restore fails, drop the table: the winner's next
    fence then stops it too, which costs its run but never lets two writers on (check_held)."""
    try:
        spoiled.restore(1)
    except (ValueError, OSError, RuntimeError):
        with suppress(ValueError, OSError, RuntimeError):
            conn.drop_table(LEASE_TABLE)


def _died_here(owner: str) -> bool:
    """A lease held by a process of this machine that no longer runs (killed): no need to wait it out."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, another user's
    return False


@contextmanager
def write_lease(uri: str, *, timeout: float = 0.0, ttl: float | None = None) -> Iterator[Lease]:
    """Hold the catalog's lease; IndexBusyError after `timeout` seconds while a live writer holds it."""
    ttl = DEFAULT_TTL if ttl is None else ttl
    try:
        conn = lancedb.connect(uri)
    except (ValueError, OSError, RuntimeError) as exc:  # no such bucket, no access, no endpoint
        raise StorageError(f"cannot write the index at {uri}: {short_cause(exc)}") from None
    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    deadline = time.monotonic() + timeout
    while True:
        try:
            created = conn.create_table(LEASE_TABLE, _row(owner, ttl), mode="create")
            if created.version == 1:
                break
            # Lance retried this create as an overwrite of the lease another writer created meanwhile (a
            # create is an Overwrite transaction, and those are retried at the next version): that writer
            # holds it, as version 1 (the put-if-absent) says. Give it back and count as refused.
            _give_back(conn, created)
            raise ValueError("lost the race to create the lease")
        except (ValueError, OSError, RuntimeError):  # it exists: someone holds it, or held it and died
            held = _holder(conn)
            if held is not None and (held[1] < time.time() or _died_here(held[0])):
                with suppress(ValueError, OSError, RuntimeError):
                    conn.drop_table(LEASE_TABLE)  # expired: its writer is gone; race to create it again
                continue
            if time.monotonic() >= deadline:
                who, until = held if held is not None else ("another writer", time.time())
                raise IndexBusyError(
                    f"another pixseek process ({who}) is writing to {uri}; wait for it to finish and try "
                    f"again, or use --wait (its lease expires in {max(0, until - time.time()):.0f} s "
                    "if it died)"
                ) from None
            time.sleep(min(1.0, max(0.05, deadline - time.monotonic())))
    lease = Lease(conn, owner, ttl)
    try:
        yield lease
    finally:
        held = _holder(conn)
        if held is not None and held[0] == owner:
            with suppress(ValueError, OSError, RuntimeError):
                conn.drop_table(LEASE_TABLE)


@contextmanager
def renewing(lease: Lease | None, every: float | None = None) -> Iterator[None]:
    """Renew `lease` from a background thread while the body works without writing (training an adapter
    can outlast the lease's time). A lost lease stops the renewals; the writer's next write, which renews
    first, then raises IndexBusyError."""
    if lease is None:
        yield
        return
    interval = RENEW_EVERY if every is None else every
    done = threading.Event()

    def renew_until_done() -> None:
        while not done.wait(interval):
            try:
                lease.renew()
            except (IndexBusyError, ValueError, OSError, RuntimeError):
                return  # lost or unreachable: the fence before the next write decides

    thread = threading.Thread(target=renew_until_done, name="pixseek-lease", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
