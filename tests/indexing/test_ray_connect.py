"""Which Ray cluster a run joins, and what it hands the cluster: no Ray cluster is started here (ray.init is
replaced), so these run in the default suite; the slow tests run real clusters."""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest

from pixseek.errors import ClusterError
from pixseek.indexing.ray_connect import check_reachable, connect, ray_address, store_environment


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens there once closed


def test_unset_means_a_local_cluster_not_the_last_one_in_tmp_ray(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    assert ray_address() == "local"
    monkeypatch.setenv("RAY_ADDRESS", "  ")
    assert ray_address() == "local"
    monkeypatch.setenv("RAY_ADDRESS", "10.0.0.5:6379")
    assert ray_address() == "10.0.0.5:6379"


def test_an_address_nobody_answers_at_is_an_error_in_seconds() -> None:
    port = _closed_port()
    start = time.monotonic()
    with pytest.raises(ClusterError, match=rf"no Ray cluster answers at RAY_ADDRESS=127.0.0.1:{port}"):
        check_reachable(f"127.0.0.1:{port}")
    assert time.monotonic() - start < 10
    with pytest.raises(ClusterError, match="is not HOST:PORT"):
        check_reachable("head-node")
    for left_to_ray in ("local", "auto", "ray://head:10001"):
        check_reachable(left_to_ray)  # no check of its own
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        check_reachable(f"127.0.0.1:{listening.getsockname()[1]}")


def test_the_store_variables_go_to_the_workers_and_nothing_else(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "key")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9000")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", "/keys/g.json")
    monkeypatch.setenv("HOME_SECRET", "no")
    env = store_environment()
    assert env["AWS_ACCESS_KEY_ID"] == "key" and env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:9000"
    assert env["GOOGLE_APPLICATION_CREDENTIALS"] == "/keys/g.json"
    assert "HOME_SECRET" not in env and "PATH" not in env


def test_connect_hands_over_the_store_and_keeps_worker_logs_off_stdout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ray = pytest.importorskip("ray")
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", lambda **kw: calls.append(kw))
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s")
    connect()
    assert calls[0]["address"] == "local" and calls[0]["log_to_driver"] is False
    assert calls[0]["runtime_env"]["env_vars"]["AWS_SECRET_ACCESS_KEY"] == "s"
    monkeypatch.setenv("RAY_ADDRESS", f"127.0.0.1:{_closed_port()}")
    with pytest.raises(ClusterError):
        connect()
    assert len(calls) == 1  # never asked Ray to retry forever
