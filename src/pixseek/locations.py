"""Local paths and object-store URIs (s3://, gs://, az://) side by side: which is which, how to join them,
and a pyarrow filesystem for a URI (credentials and endpoint from the standard AWS_* variables)."""

from __future__ import annotations

import errno
import os
import posixpath
import stat
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlparse

from pixseek.errors import StorageError

OBJECT_STORE_SCHEMES = frozenset({"s3", "gs", "gcs", "az", "abfs", "abfss"})

Location = str | Path  # a local path, or an object-store URI kept as a string (Path would mangle "//")
GCS_RETRY_SECONDS = 20.0
_S3_ALIASES = {
    "aws_endpoint": "endpoint_override", "endpoint": "endpoint_override", "aws_region": "region",
    "aws_access_key_id": "access_key", "aws_secret_access_key": "secret_key",
}  # fmt: skip


def is_object_store(location: Location) -> bool:
    """True for 's3://bucket/prefix' and the like; False for local paths (also 'C:\\\\...', 'file.png')."""
    return urlparse(str(location)).scheme in OBJECT_STORE_SCHEMES


def expand_home(path: str | os.PathLike[str]) -> Path:
    """`~` and `~/...` as the shell expands them (LanceDB expands them itself, so a literal `~` folder would
    split one index between two places); `~name...` stays a literal relative path, as it always was
    (Path.expanduser would read it as user name's home, or raise when there is no such user)."""
    text = os.fspath(path)
    return Path(text).expanduser() if text == "~" or text.startswith("~/") else Path(text)


def as_location(location: Location) -> Location:
    """A URI stays a string (without a trailing '/'); anything else becomes a Path, `~/` expanded
    (`expand_home`). A URI without a bucket (`s3://`) is a StorageError: no store could hold it."""
    if not is_object_store(location):
        return expand_home(location)
    return check_bucket(str(location)).rstrip("/")


def check_bucket(uri: str) -> str:
    """`uri`, when it names a bucket (`s3://` alone is a StorageError: no store could hold it)."""
    if not urlparse(uri).netloc:
        raise StorageError(f"{uri} names no bucket; give SCHEME://BUCKET/PREFIX, e.g. s3://photos/2024")
    return uri


def root_key(root: str | Path) -> str:
    """How the catalog names an indexed root: a URI without its trailing '/', or the folder's absolute
    path (`~` expanded; the folder itself need not exist any more)."""
    return str(root).rstrip("/") if is_object_store(root) else str(expand_home(root).resolve())


def join_root(root: str, path: str) -> str:
    """A row's full location: '/photos' + 'a/b.png', or 's3://bucket/set' + 'a/b.png' (kept a URI)."""
    return f"{root.rstrip('/')}/{path}" if is_object_store(root) else str(Path(root) / path)


def s3_options(options: Mapping[str, str]) -> dict[str, object]:
    """pyarrow S3FileSystem keywords from the standard AWS variables, overridden by `options`."""
    env = {
        "endpoint_override": os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL"),
        "region": os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"),
    }
    kwargs: dict[str, object] = {k: v for k, v in env.items() if v}
    for key, value in options.items():
        name = _S3_ALIASES.get(key.lower(), key.lower())
        if name != "allow_http":  # implied by an http:// endpoint, as for Lance
            kwargs[name] = value
    endpoint = str(kwargs.get("endpoint_override", ""))
    if endpoint.startswith("http://"):
        kwargs["scheme"], kwargs["endpoint_override"] = "http", endpoint.removeprefix("http://")
    elif endpoint.startswith("https://"):
        kwargs["endpoint_override"] = endpoint.removeprefix("https://")
    return kwargs


def object_store_fs(uri: str, storage_options: Mapping[str, str] | None = None) -> tuple[Any, str]:
    """(pyarrow FileSystem, 'bucket/prefix') for an object-store URI.

    gs:// gives up after GCS_RETRY_SECONDS, not pyarrow's 15 minutes of retries (an unreachable endpoint
    hung `pixseek index` that long, deaf to Ctrl-C). az:// is Lance's form, which pyarrow does not read.
    """
    from pyarrow import fs as pafs

    parsed = urlparse(uri)
    base = posixpath.join(parsed.netloc, parsed.path.lstrip("/")).rstrip("/")
    if parsed.scheme == "s3":
        options = s3_options(storage_options or {})
        try:
            return pafs.S3FileSystem(**options), base
        except TypeError as exc:  # a key that is no S3FileSystem keyword
            raise StorageError(
                f"bad --storage-option for {uri}: {exc}; use endpoint, access_key, secret_key, region or "
                "another pyarrow S3FileSystem keyword"
            ) from None
    if parsed.scheme in ("gs", "gcs"):
        return pafs.GcsFileSystem(retry_time_limit=timedelta(seconds=GCS_RETRY_SECONDS)), base
    if parsed.scheme == "az":
        raise StorageError(
            f"{uri}: az:// is not read here; give the same place as abfs://CONTAINER@ACCOUNT.dfs.core.windows.net/PATH"
        )
    filesystem, base = pafs.FileSystem.from_uri(uri)  # abfs://: pyarrow's own defaults
    return filesystem, base.rstrip("/")


NOT_A_REGULAR_FILE = "not a regular file (a pipe, socket or device)"


def open_regular_file(path: Path) -> BinaryIO:
    """A local file opened for reading, or OSError for anything but a regular file: opening a named pipe
    blocks until a writer comes, and a device (a link to /dev/zero) reads forever. Opened without
    blocking, then checked on the open descriptor, so a file swapped for a pipe since it was listed is
    refused too; a regular file then reads as any other (blocking), and one that a lease holder (a
    Samba or NFS server) makes the non-blocking open refuse is opened again, waiting as open() does."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except BlockingIOError:  # EWOULDBLOCK: a lease is held; only a regular file can have one
        if not stat.S_ISREG(Path(path).stat().st_mode):
            raise
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, NOT_A_REGULAR_FILE, str(path))
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
