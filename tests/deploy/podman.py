"""Podman for the container test: no registry is reachable here, so the base image is made locally from
Debian packages, and builds get the host's pip settings as mounts (never baked into a layer)."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock

HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
# crun fails here on rlimits and on hybrid cgroups; runc with explicit ulimits works.
CONTAINERS_CONF = """\
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"
"""
PACKAGES = "python3,python3-venv,python3-pip,ca-certificates"


def unavailable() -> str | None:
    """Why the container test cannot run on this machine, or None when it can."""
    missing = [tool for tool in ("podman", "debootstrap", "runc") if shutil.which(tool) is None]
    if missing:
        return f"needs {', '.join(missing)} (.ci/run installs podman buildah debootstrap runc)"
    if os.geteuid() != 0:
        return "needs root: debootstrap and rootful podman"
    return None


def apt_mirror() -> tuple[str, str]:
    """(mirror URI, suite) for debootstrap, from this machine's apt sources: bookworm if it is served."""
    entries: list[tuple[str, list[str]]] = []
    sources = Path("/etc/apt/sources.list.d")
    for path in sorted(sources.glob("*.sources")) if sources.is_dir() else []:
        for stanza in path.read_text(encoding="utf-8").split("\n\n"):
            fields = dict(re.findall(r"^(\w[\w-]*):\s*(.+)$", stanza, flags=re.MULTILINE))
            if fields.get("Types", "deb").split()[0] == "deb" and "URIs" in fields:
                entries.append((fields["URIs"].split()[0], fields.get("Suites", "").split()))
    for path in [Path("/etc/apt/sources.list"), *sorted(sources.glob("*.list"))]:
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            for m in re.finditer(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+(\S+)", text, flags=re.MULTILINE):
                entries.append((m.group(1), [m.group(2)]))
    debian = [(uri, suites) for uri, suites in entries if re.search(r"/debian/?$", uri)]
    for uri, suites in debian:
        if "bookworm" in suites:
            return uri, "bookworm"
    for uri, suites in debian:
        plain = [s for s in suites if "-" not in s]
        if plain:
            return uri, plain[0]
    raise RuntimeError(f"no Debian mirror in this machine's apt sources: {entries}")


def free_port() -> int:
    """A TCP port nobody listens on now, for publishing the container's 8000 on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pip_build_flags() -> list[str]:
    """Build flags giving the build this host's pip index and CA bundle, never baked into the image.

    The bundle (which a TLS-intercepting proxy needs) is mounted over the base's for the RUN steps only;
    PIP_CERT names it and PIP_INDEX_URL repeats this host's index, as build args only the builder stage
    declares. Only what a container can use travels: file:// indexes and find-links are host folders.
    """
    flags = []
    index = os.environ.get("PIP_INDEX_URL") or _pip_config("global.index-url")
    if index and index.startswith(("http://", "https://")):
        flags += ["--build-arg", f"PIP_INDEX_URL={index}"]
    cert = Path(os.environ.get("PIP_CERT") or _pip_config("global.cert") or HOST_CA_BUNDLE)
    if cert.is_file():
        flags += ["--volume", f"{cert}:{HOST_CA_BUNDLE}:ro", "--build-arg", f"PIP_CERT={HOST_CA_BUNDLE}"]
    return flags


def _pip_config(key: str) -> str | None:
    """One value of this host's pip configuration (files and PIP_* variables), or None."""
    import sys

    cmd = [sys.executable, "-m", "pip", "config", "get", key]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    return done.stdout.strip() or None if done.returncode == 0 else None


@dataclass(frozen=True)
class Podman:
    """Rootful podman with its own containers.conf (runc, explicit ulimits)."""

    conf: Path

    @classmethod
    def create(cls, folder: Path) -> Podman:
        conf = folder / "containers.conf"
        conf.write_text(CONTAINERS_CONF, encoding="utf-8")
        return cls(conf)

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "CONTAINERS_CONF": str(self.conf)}

    def __call__(self, *args: str, timeout: float = 120, check: bool = True) -> Completed:
        """`podman ARGS`; with `check`, a failure raises with podman's own output."""
        return _run(["podman", *args], env=self.env, timeout=timeout, check=check)

    def has_image(self, tag: str) -> bool:
        return self("image", "exists", tag, check=False).returncode == 0

    def ensure_debian_base(self, tag_prefix: str = "localhost/pixseek-base") -> str:
        """A Debian base with python3 and venv, made by debootstrap once and reused by its tag after."""
        mirror, suite = apt_mirror()
        tag = f"{tag_prefix}:{suite}"
        with FileLock(Path(tempfile.gettempdir()) / "pixseek-base.lock"):  # two runs build it once
            if self.has_image(tag):
                return tag
            with tempfile.TemporaryDirectory(prefix="pixseek-rootfs-") as tmp:
                rootfs = Path(tmp) / "rootfs"
                _run(
                    ["debootstrap", "--variant=minbase", f"--include={PACKAGES}", suite, str(rootfs), mirror]
                )
                with subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE) as tar:
                    _run(["podman", "import", "-", tag], env=self.env, stdin=tar.stdout)
        return tag


Completed = subprocess.CompletedProcess[str]


def _run(
    cmd: list[str],
    *,
    env: dict[str, str] | None = None,
    timeout: float = 900,
    check: bool = True,
    stdin: Any = None,
) -> Completed:
    """Run `cmd` capturing its output; with `check`, a failure raises with that output (not just a code)."""
    done = subprocess.run(
        cmd, env=env, stdin=stdin, capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(cmd)} exited {done.returncode}:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
        )
    return done
