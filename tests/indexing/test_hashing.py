"""Content hashes: the stdlib's BLAKE2b-128 of the bytes, the same from a file or from memory, and a file
that cannot be read (or is not a regular file) is that file's error, never a hang."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import pytest

from pixseek.indexing.hashing import content_hash, content_hash_bytes, hash_files


def test_a_file_and_its_bytes_hash_alike_as_blake2b_128(tmp_path: Path) -> None:
    data = os.urandom(3 << 20)
    (tmp_path / "a.bin").write_bytes(data)
    expected = hashlib.blake2b(data, digest_size=16).hexdigest()
    assert content_hash(tmp_path / "a.bin") == content_hash_bytes(data) == expected


def test_unreadable_entries_give_their_error_in_order_and_at_once(tmp_path: Path) -> None:
    (tmp_path / "ok.png").write_bytes(b"abc")
    os.mkfifo(tmp_path / "pipe.png")
    paths = [tmp_path / "pipe.png", tmp_path / "ok.png", tmp_path / "gone.png"]
    found: list[object] = []
    worker = threading.Thread(target=lambda: found.extend(hash_files(paths, threads=2)), daemon=True)
    worker.start()
    worker.join(timeout=10)
    assert not worker.is_alive(), "hashing a named pipe blocked"
    pipe, ok, gone = found
    assert isinstance(pipe, OSError) and pipe.strerror == "not a regular file (a pipe, socket or device)"
    assert ok == hashlib.blake2b(b"abc", digest_size=16).hexdigest()
    assert isinstance(gone, FileNotFoundError)


def test_a_regular_file_reads_blocking_and_a_leased_one_is_waited_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The non-blocking open that refuses pipes must not leak into reading a regular file, and one that a
    lease holder makes that open refuse (EWOULDBLOCK, as a Samba or NFS server's lease does) is opened
    again as open() would, waiting, rather than listed as failed."""
    import fcntl

    from pixseek import locations

    (tmp_path / "a.png").write_bytes(b"abc")
    with locations.open_regular_file(tmp_path / "a.png") as fh:
        assert not fcntl.fcntl(fh.fileno(), fcntl.F_GETFL) & os.O_NONBLOCK
    real = os.open

    def leased(path: object, flags: int, *args: object) -> int:
        if flags & os.O_NONBLOCK:
            raise BlockingIOError(11, "Resource temporarily unavailable")
        return real(path, flags, *args)

    monkeypatch.setattr(locations.os, "open", leased)
    assert content_hash(tmp_path / "a.png") == hashlib.blake2b(b"abc", digest_size=16).hexdigest()
