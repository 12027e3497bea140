"""Joining the Ray cluster a run uses: RAY_ADDRESS's, or a fresh local one when it is unset.

Three things `ray.init()` alone got wrong for a user (found in a trial on a two-node cluster):
- unset, it joins whatever cluster /tmp/ray last recorded, and hangs when that cluster is gone;
- an address nobody answers at is retried forever, so the check here fails in seconds instead;
- the cluster's processes do not see the driver's store settings (AWS_*), so actors could not read the
  images or append to the catalog; they are handed over as the job's environment.
Worker log lines are kept off the driver's stdout, which may be `--json`.
"""

from __future__ import annotations

import os
import socket

from pixseek.errors import ClusterError

CONNECT_SECONDS = 5.0
# The store's settings a worker needs to read the same images and append to the same catalog.
_STORE_VARIABLES = ("AWS_", "GOOGLE_", "AZURE_")


def ray_address() -> str:
    """RAY_ADDRESS, or "local" (a new cluster in this process) when it is unset or empty."""
    return os.environ.get("RAY_ADDRESS", "").strip() or "local"


def check_reachable(address: str, timeout: float = CONNECT_SECONDS) -> None:
    """For HOST:PORT addresses, one TCP connection first: a ClusterError in seconds for a cluster that is
    not there ("local", "auto" and ray:// are Ray's to resolve)."""
    if address in ("local", "auto") or "://" in address:
        return
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout).close()
    except ValueError:
        raise ClusterError(
            f"RAY_ADDRESS={address} is not HOST:PORT, ray://HOST:PORT, local or auto"
        ) from None
    except OSError as exc:
        raise ClusterError(
            f"no Ray cluster answers at RAY_ADDRESS={address} ({exc.strerror or exc}); start one with "
            "`ray start --head`, or unset RAY_ADDRESS for a local one"
        ) from None


def store_environment() -> dict[str, str]:
    """The driver's object-store variables, for the cluster's workers."""
    return {k: v for k, v in os.environ.items() if k.startswith(_STORE_VARIABLES)}


def connect() -> None:
    """Join the run's cluster once per process (see the module's docstring)."""
    import ray

    if ray.is_initialized():
        return
    address = ray_address()
    check_reachable(address)
    ray.init(address=address, runtime_env={"env_vars": store_environment()}, log_to_driver=False)
