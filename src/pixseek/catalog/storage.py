"""The catalog's storage, local or object store: errors in a user's words, and what a URI holds."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator

from pixseek.errors import StorageError
from pixseek.locations import Location, object_store_fs

_OS_ERROR = re.compile(r"\(os error (\d+)\)")
_S3_CODE = re.compile(r"<Code>([^<]+)</Code>")
_S3_MESSAGE = re.compile(r"<Message>([^<]+)</Message>")
_RUST_SOURCE = re.compile(r",? ?/rustc/\S+|, \S+\.rs:\d+:\d+")  # where in Lance's Rust it was raised


@contextlib.contextmanager
def storage_errors(path: Location) -> Iterator[None]:
    """Disk full, read-only and permission errors -> StorageError naming the catalog and the cause.

    Lance reports them as RuntimeError/OSError text ending in "(os error N)"; anything else passes through.
    """
    try:
        yield
    except StorageError:
        raise
    except (OSError, RuntimeError, ValueError) as exc:
        errno = os_errno(exc)
        if errno is None:
            raise
        raise StorageError(f"cannot write the index at {path}: {os.strerror(errno)}") from exc


@contextlib.contextmanager
def read_errors(path: Location) -> Iterator[None]:
    """A read the storage cannot answer (a store gone or unreachable, files missing) -> StorageError naming
    the catalog and the cause's first line, which the CLI prints as one line and the web app answers 502."""
    try:
        yield
    except StorageError:
        raise
    except (OSError, RuntimeError, ValueError) as exc:
        raise StorageError(f"cannot read the index at {path}: {short_cause(exc)}") from exc


def short_cause(exc: BaseException) -> str:
    """What a user can act on in a storage error: an S3 reply's code and message (Lance wraps them in a
    page of Rust debug output), else the first line, at most 300 characters."""
    text = str(exc).strip()
    code, message = _S3_CODE.search(text), _S3_MESSAGE.search(text)
    if code and message:
        return f"{code.group(1)}: {message.group(1)}"
    first = _RUST_SOURCE.sub("", text.splitlines()[0]) if text else type(exc).__name__
    return first if len(first) <= 300 else first[:299] + "…"


def os_errno(exc: BaseException) -> int | None:
    """The OS error behind a storage error (Lance writes it as "(os error N)"), or None: a damaged file,
    say, rather than a full or read-only disk."""
    if isinstance(exc, OSError) and exc.errno:
        return exc.errno
    found = _OS_ERROR.search(str(exc))
    return int(found.group(1)) if found else None


def remote_table_committed(uri: str, table: str) -> bool:
    """Whether `table` under the catalog URI has a committed version: Lance writes a version's manifest
    last, with a conditional put, so a manifest means a complete table (no rename on object stores)."""
    from pyarrow import fs as pafs

    filesystem, base = object_store_fs(uri)
    versions = pafs.FileSelector(f"{base}/{table}.lance/_versions", allow_not_found=True)
    return any(info.path.endswith(".manifest") for info in filesystem.get_file_info(versions))


def remote_bytes(uri: str) -> int:
    """Total size of every object under the catalog URI."""
    from pyarrow import fs as pafs

    filesystem, base = object_store_fs(uri)
    infos = filesystem.get_file_info(pafs.FileSelector(base, recursive=True, allow_not_found=True))
    return sum(info.size or 0 for info in infos if info.type == pafs.FileType.File)
