"""Where images come from: a local folder or an object-store prefix (s3://, gs://, az://), one interface.

Object stores go through pyarrow's filesystems; credentials and endpoint come from the standard
variables and config files (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION,
AWS_ALLOW_HTTP=true for a plain-http endpoint), plus any `storage_options` the user gives.
"""

from __future__ import annotations

import functools
import io
import posixpath
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from pixseek.errors import FolderNotFoundError
from pixseek.indexing.hashing import content_hash_bytes, hash_files
from pixseek.indexing.scan import IMAGE_EXTENSIONS, FileEntry, ScanResult, scan
from pixseek.locations import is_object_store, object_store_fs


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
    """Every object under a prefix; `path` is the key relative to the prefix, `mtime` the last-modified."""

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
        from pyarrow import fs as pafs

        filesystem, base = self._fs
        result = ScanResult()
        try:
            bucket = filesystem.get_file_info(base.split("/", 1)[0])
            if bucket.type == pafs.FileType.NotFound:
                raise FolderNotFoundError(f"cannot index {self.uri}: no such bucket")
            infos = filesystem.get_file_info(pafs.FileSelector(base, recursive=True, allow_not_found=True))
        except OSError as exc:
            raise FolderNotFoundError(f"cannot list {self.uri}: {exc}") from None
        for info in infos:
            if info.type != pafs.FileType.File:
                continue
            rel = info.path[len(base) :].lstrip("/")
            hidden = any(part.startswith(".") for part in rel.split("/"))
            if (hidden and not include_hidden) or posixpath.splitext(rel)[1].lower() not in IMAGE_EXTENSIONS:
                continue
            mtime_ns = info.mtime_ns if info.mtime_ns is not None else 0
            result.files.append(FileEntry(rel, int(info.size or 0), int(mtime_ns)))
        result.files.sort(key=lambda f: f.path)
        return result

    def read(self, path: str) -> bytes:
        filesystem, base = self._fs
        with filesystem.open_input_stream(f"{base}/{path}") as stream:
            return stream.read()


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
        return ObjectStoreSource(str(location), dict(storage_options or {}))
    folder = Path(location)
    if not folder.is_dir():
        what = "a file, not a folder" if folder.exists() else "no such folder"
        raise FolderNotFoundError(f"cannot index {folder}: {what}")
    return LocalSource(folder)
