"""Soak: `pixseek serve` under 32 clients of mixed requests while `pixseek index` keeps adding and removing
files, on 127.0.0.1. Reports 5xx, p50/p99 per route, and the server's RSS and open files over time.

    python benchmarks/soak.py --minutes 10 [--clients 32] [--json OUT]

The model is the tiny CLIP fixture (real ONNX Runtime, real preprocessing; small, so the server and not
the model is what is soaked). Growth is measured from the end of a warm-up (the first fifth of the run).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.indexing.images import make_tree, write_image  # noqa: E402

TINY_CLIP = REPO / "tests" / "fixtures" / "tiny-clip"
ENV = {**os.environ, "PYTHONPATH": f"{REPO / 'src'}{os.pathsep}{REPO}"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _proc_status(pid: int) -> tuple[float, int]:
    """(RSS in MB, open file descriptors) of a process, from /proc."""
    rss = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) / 1024
    return rss, sum(1 for _ in Path(f"/proc/{pid}/fd").iterdir())


def _index(folder: Path, db: Path) -> int:
    cmd = [sys.executable, "-m", "pixseek", "index", str(folder), "--db", str(db), "--model", str(TINY_CLIP)]
    cmd += ["--workers", "0", "--wait", "60", "--json"]
    return subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=600, check=False).returncode


class Clients:
    """N threads sending a mix of image, text, like and thumbnail requests, recording each outcome."""

    def __init__(self, url: str, uploads: list[bytes], clients: int) -> None:
        self.url, self.uploads, self.clients = url, uploads, clients
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.status: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        self.errors: list[str] = []
        self.ids: list[str] = []
        self.stop = threading.Event()
        self._lock = threading.Lock()

    def run(self) -> list[threading.Thread]:
        threads = [threading.Thread(target=self._loop, args=(i,), daemon=True) for i in range(self.clients)]
        for thread in threads:
            thread.start()
        return threads

    def _loop(self, seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(base_url=self.url, timeout=60) as http:
            while not self.stop.is_set():
                kind = rng.choice(["image", "text", "like", "thumbnail"])
                start = time.perf_counter()
                try:
                    response = self._send(http, kind, rng)
                except httpx.HTTPError as exc:
                    with self._lock:
                        self.errors.append(f"{kind}: {type(exc).__name__}: {exc}")
                    continue
                with self._lock:
                    self.latency[kind].append(time.perf_counter() - start)
                    self.status[kind][response.status_code] += 1
                    if kind != "thumbnail" and response.status_code == 200:
                        self.ids = [h["id"] for h in response.json()["results"]] or self.ids

    def _send(self, http: httpx.Client, kind: str, rng: random.Random) -> httpx.Response:
        some_id = rng.choice(self.ids) if self.ids else "missing"
        if kind == "image":
            return http.post("/search", files={"image": ("q.png", rng.choice(self.uploads))}, data={"k": 10})
        if kind == "text":
            return http.post(
                "/search", data={"text": rng.choice(["a cat", "red", "a photo of a tree"]), "k": 10}
            )
        if kind == "like":
            return http.post("/search", data={"like": some_id, "k": 10})
        return http.get(f"/thumbnail/{some_id}")


def soak(minutes: float, clients: int) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="pixseek-soak-"))
    try:
        folder, db = tmp / "photos", tmp / "db"
        written = make_tree(folder, [f"c{i % 4}/{i:03d}.png" for i in range(200)])
        assert _index(folder, db) == 0
        port = _free_port()
        server_log = (tmp / "serve.log").open("w")  # a file, not a pipe nobody reads (it could fill up)
        server = subprocess.Popen(
            [sys.executable, "-m", "pixseek", "serve", "--db", str(db), "--port", str(port), "--quiet"],
            env=ENV, stdout=subprocess.DEVNULL, stderr=server_log,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"serve did not start: {(tmp / 'serve.log').read_text()[-2000:]}")
            time.sleep(0.2)
        uploads = [p.read_bytes() for p in list(written.values())[:20]]
        load = Clients(url, uploads, clients)
        index_runs, index_failures, samples = 0, 0, []
        stop_writer = threading.Event()

        def writer() -> None:  # add 10 files, re-index, remove them, re-index, ... until told to stop
            nonlocal index_runs, index_failures
            n = 0
            while not stop_writer.is_set():
                extra = [
                    write_image(folder / "extra" / f"{n}-{i}.png", seed=10_000 + n * 10 + i)
                    for i in range(10)
                ]
                index_failures += _index(folder, db) != 0
                for path in extra:
                    path.unlink()
                index_failures += _index(folder, db) != 0
                index_runs += 2
                n += 1

        started = time.monotonic()
        threads = load.run()
        writer_thread = threading.Thread(target=writer, daemon=True)
        writer_thread.start()
        while time.monotonic() - started < minutes * 60:
            samples.append((time.monotonic() - started, *_proc_status(server.pid)))
            time.sleep(2)
        load.stop.set()
        stop_writer.set()
        for thread in threads:
            thread.join(60)
        writer_thread.join(600)
        server.send_signal(signal.SIGTERM)
        server.wait(60)
        server_log.close()
        log_lines = (tmp / "serve.log").read_text().splitlines()
        server_log_tail = [line for line in log_lines if line.strip()][-40:]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    warm = [s for s in samples if s[0] >= minutes * 60 / 5] or samples
    routes = {
        kind: {
            "requests": len(times),
            "p50_ms": round(1000 * statistics.median(times), 1),
            "p99_ms": round(1000 * sorted(times)[int(0.99 * (len(times) - 1))], 1),
            "status": dict(sorted(load.status[kind].items())),
        }
        for kind, times in sorted(load.latency.items())
    }
    server_errors = sum(n for kind in load.status.values() for code, n in kind.items() if code >= 500)
    return {
        "minutes": minutes,
        "clients": clients,
        "requests": sum(r["requests"] for r in routes.values()),
        "5xx": server_errors,
        "connection_errors": len(load.errors),
        "first_errors": load.errors[:5],
        "server_log_tail": server_log_tail,
        "routes": routes,
        "index_runs": index_runs,
        "index_failures": index_failures,
        "rss_mb": {
            "after_warmup": round(warm[0][1]),
            "end": round(warm[-1][1]),
            "growth_pct": round(100 * (warm[-1][1] / warm[0][1] - 1), 1),
        },
        "open_fds": {"after_warmup": warm[0][2], "end": warm[-1][2], "max": max(s[2] for s in warm)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    result = soak(args.minutes, args.clients)
    text = json.dumps(result, indent=2)
    if args.json:
        args.json.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
