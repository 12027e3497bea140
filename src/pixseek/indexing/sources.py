"""Where images come from: a local folder or an object-store prefix (s3://, gs://, az://), one interface.

Object stores go through pyarrow's filesystems; credentials and endpoint come from the standard
variables and config files (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION,
AWS_ALLOW_HTTP=true for a plain-http endpoint), plus any `storage_options` the user gives.
"""

from __future__ import annotations

import functools
import io
import logging
import posixpath
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

from pixseek.errors import FolderNotFoundError, SourceChangedError
from pixseek.indexing.hashing import content_hash_bytes, hash_files
from pixseek.indexing.object_listing import can_list_etags, list_s3
from pixseek.indexing.scan import IMAGE_EXTENSIONS, FileEntry, ScanResult, scan
from pixseek.locations import check_bucket, expand_home, is_object_store, object_store_fs

log = logging.getLogger(__name__)


class Source(Protocol):
    """A tree of image files: listed with size and mtime, read whole by relative POSIX path."""

    @property
    def root(self) -> str:
        """What rows store as their root: an absolute folder, or the prefix URI."""
        ...

    def scan(self, *, include_hidden: bool = False) -> ScanResult: ...

    def read(self, path: str) -> bytes: ...


@dataclass(frozen=True)
class LocalSource:
    """A folder on this machine (or a shared mount every node sees)."""

    folder: Path

    @property
    def root(self) -> str:
        return str(self.folder.resolve())

    def scan(self, *, include_hidden: bool = False) -> ScanResult:
        return scan(self.folder.resolve(), include_hidden=include_hidden)

    def read(self, path: str) -> bytes:
        return (self.folder / path).read_bytes()


@dataclass(frozen=True)
class ObjectStoreSource:
    """Every object under a prefix; `path` is the key relative to the prefix, `mtime` the last-modified,
    `etag` the object's entity tag when the listing gives one."""

    uri: str
    storage_options: Mapping[str, str] = field(default_factory=dict)

    @property
    def root(self) -> str:
        return self.uri.rstrip("/")

    @functools.cached_property
    def _fs(self) -> tuple[Any, str]:
        """(pyarrow FileSystem, "bucket/prefix"), made once per source (and per worker that unpickles it)."""
        return object_store_fs(self.uri, self.storage_options)

    def scan(self, *, include_hidden: bool = False) -> ScanResult:
        """Image objects under the prefix, with ETags when listed through boto3 (s3:// and extra `[s3]`)."""
        if urlparse(self.uri).scheme == "s3" and can_list_etags():
            bucket, _, prefix = self._fs[1].partition("/")
            listed = [
                FileEntry(o.path, o.size, o.mtime_ns, o.etag)
                for o in list_s3(bucket, prefix, self.storage_options, uri=self.uri)
            ]
        else:
            if urlparse(self.uri).scheme == "s3":
                log.warning(
                    "boto3 is not installed, so %s is listed without ETags: an object overwritten with the "
                    "same size within the same second goes unnoticed (pip install 'pixseek[s3]')",
                    self.uri,
                )
            listed = self._list_without_etags()
        result = ScanResult()
        for entry in listed:
            hidden = any(part.startswith(".") for part in entry.path.split("/"))
            suffix = posixpath.splitext(entry.path)[1].lower()
            if (include_hidden or not hidden) and suffix in IMAGE_EXTENSIONS:
                result.files.append(entry)
        result.files.sort(key=lambda f: f.path)
        return result

    def check(self) -> None:
        """One request, before anything is written: FolderNotFoundError when the bucket is missing or the
        store refuses or cannot be reached (a failed run had left an empty catalog behind)."""
        from pyarrow import fs as pafs

        filesystem, base = self._fs
        try:
            bucket = filesystem.get_file_info(base.split("/", 1)[0])
        except OSError as exc:
            raise FolderNotFoundError(f"cannot list {self.uri}: {exc}") from None
        if bucket.type == pafs.FileType.NotFound:
            raise FolderNotFoundError(f"cannot index {self.uri}: no such bucket")

    def _list_without_etags(self) -> list[FileEntry]:
        from pyarrow import fs as pafs

        self.check()
        filesystem, base = self._fs
        try:
            infos = filesystem.get_file_info(pafs.FileSelector(base, recursive=True, allow_not_found=True))
        except OSError as exc:
            raise FolderNotFoundError(f"cannot list {self.uri}: {exc}") from None
        return [
            FileEntry(info.path[len(base) :].lstrip("/"), int(info.size or 0), int(info.mtime_ns or 0))
            for info in infos
            if info.type == pafs.FileType.File
        ]

    def read(self, path: str) -> bytes:
        filesystem, base = self._fs
        with filesystem.open_input_stream(f"{base}/{path}") as stream:
            return stream.read()

    def check_unchanged(self, path: str, *, size: int, mtime_ns: int) -> None:
        """FileNotFoundError when the object is gone, SourceChangedError when its size or last-modified
        differ from what was indexed: one metadata request, no bytes."""
        from pyarrow import fs as pafs

        filesystem, base = self._fs
        info = filesystem.get_file_info(f"{base}/{path}")
        if info.type != pafs.FileType.File:
            raise FileNotFoundError(f"{self.root}/{path}")
        if info.size != size or int(info.mtime_ns or 0) != mtime_ns:
            raise SourceChangedError(f"{self.root}/{path} changed since it was indexed")

    def read_if_unchanged(self, path: str, *, size: int, mtime_ns: int) -> bytes:
        """The object's bytes, only while it is the one that was indexed (see `check_unchanged`)."""
        self.check_unchanged(path, size=size, mtime_ns=mtime_ns)
        data = self.read(path)
        if len(data) != size:  # overwritten between the check and the read
            raise SourceChangedError(f"{self.root}/{path} changed since it was indexed")
        return data


@dataclass(frozen=True)
class ObjectFile:
    """One object to decode: picklable, so worker processes fetch its bytes themselves."""

    source: ObjectStoreSource
    path: str

    def open(self) -> io.BytesIO:
        return io.BytesIO(self.source.read(self.path))

    def __str__(self) -> str:
        return f"{self.source.root}/{self.path}"


def hash_source_files(source: Source, paths: Sequence[str], *, threads: int) -> list[str | OSError]:
    """Content hashes in input order (an unreadable file gives its OSError): streamed from disk for a
    folder, fetched whole for an object store."""
    if isinstance(source, LocalSource):
        return hash_files([source.folder / p for p in paths], threads=threads)

    def one(path: str) -> str | OSError:
        try:
            return content_hash_bytes(source.read(path))
        except OSError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        return list(pool.map(one, paths))


def decode_items(source: Source, paths: Sequence[str]) -> list[Path | ObjectFile]:
    """What the decode stage opens for each relative path: a file path, or an object to fetch."""
    if isinstance(source, LocalSource):
        root = source.folder.resolve()
        return [root / p for p in paths]
    assert isinstance(source, ObjectStoreSource)
    return [ObjectFile(source, p) for p in paths]


def open_source(location: str | Path, *, storage_options: Mapping[str, str] | None = None) -> Source:
    """A Source for a local folder or an object-store URI; a missing local folder is a clear error."""
    if is_object_store(location):
        return ObjectStoreSource(check_bucket(str(location)), dict(storage_options or {}))
    folder = expand_home(location)
    if not folder.is_dir():
        what = "a file, not a folder" if folder.exists() else "no such folder"
        raise FolderNotFoundError(f"cannot index {folder}: {what}")
    return LocalSource(folder)
