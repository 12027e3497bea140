"""A CRC-32 beside each saved ANN index, so a file damaged in place is built again, not searched.

FAISS refuses a cut-off file, but reads one whose bytes changed while its structure held, and then answers
with other results. The digest is written before the index file is renamed into place, so a whole index
always has its digest; an index saved by an earlier pixseek has none and is read as it is.
"""

from __future__ import annotations

import zlib
from pathlib import Path

from pixseek.search.temporary_files import temporary_path

SUFFIX = ".crc32"
_CHUNK = 8 << 20


def digest_path(index: Path) -> Path:
    return index.with_name(index.name + SUFFIX)


def crc_of_file(path: Path) -> int:
    crc = 0
    with path.open("rb") as f:
        while block := f.read(_CHUNK):
            crc = zlib.crc32(block, crc)
    return crc


def crc_of_bytes(data: bytes) -> int:
    return zlib.crc32(data)


def as_text(crc: int) -> str:
    return f"{crc:08x}\n"


def write_digest(index: Path, crc: int) -> None:
    """Atomically (temp file + rename), before the index it describes is renamed into place."""
    target = digest_path(index)
    tmp = temporary_path(target)
    try:
        tmp.write_text(as_text(crc))
        tmp.replace(target)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise


def matches(saved: str, crc: int) -> bool:
    """Whether a digest as saved (`as_text`) is this CRC."""
    return saved.strip() == as_text(crc).strip()


def intact(index: Path) -> bool:
    """Whether the saved index matches its digest (True where none was written)."""
    try:
        saved = digest_path(index).read_text()
    except FileNotFoundError:
        return True
    return matches(saved, crc_of_file(index))
