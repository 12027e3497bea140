"""Reading a vector file into the page cache at a replica's start: the kernel's own residency report
(mincore) is the judge, never the warm-up's counters."""

from __future__ import annotations

import ctypes
import logging
import mmap
import os
from pathlib import Path

import numpy as np
import pytest

from pixseek.search.page_cache import FileWarmup, available_memory, start_warmup

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mincore.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_ubyte))


def _resident_share(path: Path) -> float:
    """The share of the file's pages the kernel reports in the page cache (mincore on a fresh mapping,
    which reads nothing)."""
    size = path.stat().st_size
    with path.open("rb") as file, mmap.mmap(file.fileno(), size, prot=mmap.PROT_READ) as mapped:
        view = np.frombuffer(mapped, dtype=np.uint8)
        pages = (size + mmap.PAGESIZE - 1) // mmap.PAGESIZE
        vec = (ctypes.c_ubyte * pages)()
        if _libc.mincore(view.ctypes.data, size, vec) != 0:
            raise OSError(ctypes.get_errno(), "mincore")
        del view
    return float(np.mean(np.frombuffer(vec, dtype=np.uint8) & 1))


def _evicted_file(tmp_path: Path, size: int = 24 * 1024 * 1024) -> Path:
    path = tmp_path / "vectors-v1.f16"
    path.write_bytes(np.random.default_rng(0).integers(0, 255, size, dtype=np.uint8).tobytes())
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)  # dirty pages cannot be dropped
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
    if _resident_share(path) > 0.5:
        pytest.skip("this filesystem keeps the file in memory whatever we ask (tmpfs?)")
    return path


def test_the_warmup_puts_the_whole_file_in_the_page_cache(tmp_path: Path) -> None:
    path = _evicted_file(tmp_path)
    warmup = FileWarmup(path)
    assert warmup.wait(60)
    assert warmup.error is None and warmup.fraction == 1.0
    assert _resident_share(path) > 0.99


def test_a_file_larger_than_most_of_the_available_memory_is_not_read(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = _evicted_file(tmp_path)
    size = path.stat().st_size
    with caplog.at_level(logging.INFO, logger="pixseek.search.page_cache"):
        assert start_warmup(path, available=int(size / 0.8) - 1) is None
    assert "more than 80% of" in caplog.text
    assert _resident_share(path) < 0.5
    warmup = start_warmup(path, available=int(size / 0.8) + 1)
    assert warmup is not None and warmup.wait(60)


def test_an_unreadable_file_ends_the_warmup_with_its_reason(tmp_path: Path) -> None:
    folder = tmp_path / "not-a-file"
    folder.mkdir()
    warmup = FileWarmup(folder)
    assert warmup.wait(10)
    assert warmup.done and warmup.error is not None
    assert str(folder) in warmup.error and "page cache" in warmup.error


def _fake_proc(tmp_path: Path, cgroup: str, *, available_kb: int, resident_pages: int) -> Path:
    proc = tmp_path / "proc"
    (proc / "self").mkdir(parents=True)
    (proc / "meminfo").write_text(f"MemTotal: 99999999 kB\nMemAvailable: {available_kb} kB\n")
    (proc / "self" / "cgroup").write_text(cgroup)
    (proc / "self" / "statm").write_text(f"1000 {resident_pages} 10 1 0 5 0\n")
    return proc


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_a_container_limit_bounds_the_memory_the_file_may_take(tmp_path: Path, version: str) -> None:
    cgroups = tmp_path / "cgroup"
    if version == "v2":
        (cgroups / "pod").mkdir(parents=True)
        (cgroups / "pod" / "memory.max").write_text("2147483648\n")  # 2 GiB, as in deploy/kubernetes
        cgroup = "0::/pod\n"
    else:
        (cgroups / "memory" / "pod").mkdir(parents=True)
        (cgroups / "memory" / "pod" / "memory.limit_in_bytes").write_text("2147483648\n")
        cgroup = "5:cpu,cpuacct:/pod\n4:memory:/pod\n"
    page = os.sysconf("SC_PAGE_SIZE")
    proc = _fake_proc(tmp_path, cgroup, available_kb=20 * 1024 * 1024, resident_pages=(512 << 20) // page)
    # 2 GiB limit less 512 MiB resident, against 20 GiB available on the host: the limit decides
    assert available_memory(proc, cgroups) == 2147483648 - (512 << 20)


def test_no_limit_leaves_the_host_s_available_memory(tmp_path: Path) -> None:
    cgroups = tmp_path / "cgroup"
    cgroups.mkdir()
    (cgroups / "memory.max").write_text("max\n")
    proc = _fake_proc(tmp_path, "0::/\n", available_kb=1000, resident_pages=1)
    assert available_memory(proc, cgroups) == 1000 * 1024
    v1 = tmp_path / "v1"
    (v1 / "memory").mkdir(parents=True)
    (v1 / "memory" / "memory.limit_in_bytes").write_text("9223372036854771712\n")  # v1's "unlimited"
    assert (
        available_memory(_fake_proc(tmp_path / "b", "4:memory:/\n", available_kb=7, resident_pages=1), v1)
        == 7 * 1024
    )
