"""Walk a folder for image files: recursive, any-case extensions, symlinks without loops, hidden skipped."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from pixseek.locations import NOT_A_REGULAR_FILE
from pixseek.types import IMAGE_EXTENSIONS

NOT_UTF8 = "its name is not valid UTF-8, so it cannot be stored; rename it to index it"


@dataclass(frozen=True, slots=True)
class FileEntry:
    """One image file as found on disk; `path` is POSIX and relative to the scanned root."""

    path: str
    size: int
    mtime_ns: int
    etag: str | None = None  # an object store's entity tag: catches an overwrite within the same second

    @property
    def label(self) -> str | None:
        """The first folder level under the root (the class in a labelled dataset)."""
        head, sep, _ = self.path.partition("/")
        return head if sep else None


@dataclass
class ScanResult:
    files: list[FileEntry] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (relative path, reason)


def scan(root: Path, *, include_hidden: bool = False) -> ScanResult:
    """Every image under `root`, sorted by path; unreadable entries are reported, not raised.

    Directories are identified by (device, inode) of their resolved target, so a symlink back up
    the tree, or two links to the same folder, are walked once.
    """
    result = ScanResult()
    root_stat = root.stat()
    seen = {(root_stat.st_dev, root_stat.st_ino)}
    stack = [""]
    while stack:
        rel_dir = stack.pop()
        try:
            entries = list(os.scandir(root / rel_dir if rel_dir else root))
        except OSError as exc:
            result.errors.append((rel_dir, f"cannot list folder: {exc.strerror or exc}"))
            continue
        for entry in entries:
            if entry.name.startswith(".") and not include_hidden:
                continue
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            if not _is_utf8(entry.name):  # the catalog stores UTF-8 paths; this one cannot be stored as is
                result.errors.append((printable(rel), NOT_UTF8))
                continue
            try:
                if entry.is_dir(follow_symlinks=True):
                    st = entry.stat(follow_symlinks=True)
                    if (st.st_dev, st.st_ino) not in seen:
                        seen.add((st.st_dev, st.st_ino))
                        stack.append(rel)
                    continue
                if Path(entry.name).suffix.lower() not in IMAGE_EXTENSIONS:
                    continue
                st = entry.stat(follow_symlinks=True)
            except OSError as exc:
                result.errors.append((rel, f"cannot stat: {exc.strerror or exc}"))
                continue
            if not stat.S_ISREG(st.st_mode):  # a pipe would block the read, a device never end it
                result.errors.append((rel, NOT_A_REGULAR_FILE))
                continue
            result.files.append(FileEntry(rel, st.st_size, st.st_mtime_ns))
    result.files.sort(key=lambda f: f.path)
    return result


def _is_utf8(name: str) -> bool:
    """False for a name whose bytes are not UTF-8 (Python holds those as lone surrogates)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def printable(name: str) -> str:
    """A name as it can be shown: bytes that are not UTF-8 as \\xNN escapes."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
