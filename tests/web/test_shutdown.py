"""Graceful shutdown of a real `pixseek serve` process: on SIGTERM a request in flight finishes, new
connections are refused, and the process exits (bounded by GRACEFUL_SHUTDOWN_SECONDS)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from pixseek.cli.web import GRACEFUL_SHUTDOWN_SECONDS
from pixseek.services import Index
from tests.fakes import FakeEmbedder
from tests.indexing.images import make_tree
from tests.subprocess_env import checkout_env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_sigterm_lets_the_request_in_flight_finish_and_refuses_new_ones(tmp_path: Path) -> None:
    make_tree(tmp_path / "imgs", ["a/1.png", "b/2.png"])
    Index(tmp_path / "db", embedder=FakeEmbedder()).add(tmp_path / "imgs", workers=0)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.fake_model_cli", "serve", "--db", str(tmp_path / "db"),
         "--port", str(port), "-q"],
        env=checkout_env(FAKE_MODEL_DELAY="3"), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, server.communicate()[1][-2000:]
            time.sleep(0.2)
        answer: dict[str, object] = {}

        def slow_search() -> None:  # the text tower takes 3 s: still running when the signal comes
            answer["response"] = httpx.post(f"{url}/search", data={"text": "a cat"}, timeout=60)

        in_flight = threading.Thread(target=slow_search)
        in_flight.start()
        time.sleep(1.0)
        os.kill(server.pid, signal.SIGTERM)
        time.sleep(0.5)
        refused = False
        try:
            httpx.get(f"{url}/health", timeout=2)
        except httpx.ConnectError:
            refused = True
        in_flight.join(60)
        response = answer["response"]
        assert isinstance(response, httpx.Response) and response.status_code == 200, response
        assert len(response.json()["results"]) == 2
        assert refused  # the listening socket closed at once
        # uvicorn re-raises the signal once it has shut down, so the exit status says "terminated by SIGTERM"
        assert server.wait(GRACEFUL_SHUTDOWN_SECONDS + 10) == -signal.SIGTERM
    finally:
        if server.poll() is None:
            server.kill()
