"""Content hashes of files (BLAKE2b-128 from the stdlib), computed in threads since hashlib frees the GIL."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pixseek.locations import open_regular_file

_DIGEST_BYTES = 16


def content_hash(path: Path) -> str:
    """Hex BLAKE2b-128 of the file's bytes: ~1 GB/s per core, and collisions are not a concern."""
    with open_regular_file(path) as fh:
        return hashlib.file_digest(fh, lambda: hashlib.blake2b(digest_size=_DIGEST_BYTES)).hexdigest()


def content_hash_bytes(data: bytes) -> str:
    """The same hash as content_hash, of bytes already in memory (an object fetched once)."""
    return hashlib.blake2b(data, digest_size=_DIGEST_BYTES).hexdigest()


def hash_files(paths: Sequence[Path], *, threads: int = 4) -> list[str | OSError]:
    """Hashes in input order; a file that cannot be read gives its OSError instead."""

    def one(path: Path) -> str | OSError:
        try:
            return content_hash(path)
        except OSError as exc:
            return exc

    if len(paths) < 2 or threads <= 1:
        return [one(p) for p in paths]
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(one, paths))
