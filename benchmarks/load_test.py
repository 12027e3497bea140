"""Load test of `pixseek serve` on 127.0.0.1: single-query latency, then many concurrent clients.

    python benchmarks/load_test.py --db DB [--images DIR] [--clients 32] [--requests 2000] [--json]

Starts `pixseek serve --db DB` on a free loopback port (or targets --url, which must be a loopback address),
measures sequential image and text query latency (p50), then sends a fixed number of mixed image and text
requests from concurrent clients and reports throughput, p50, p99 and errors. Bounded in count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import httpx

TEXTS = [
    "a cat",
    "a red apple",
    "a cartoon dog",
    "a tree in the park",
    "a plane in the sky",
    "food on a plate",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _one(client: httpx.AsyncClient, kind: str, payload: bytes | str) -> tuple[float, int]:
    t0 = time.perf_counter()
    if kind == "image":
        r = await client.post("/search", files={"image": ("q.png", payload)}, data={"k": "10"})
    else:
        r = await client.post("/search", data={"text": payload, "k": "10"})
    return 1000 * (time.perf_counter() - t0), r.status_code


async def _sequential(client: httpx.AsyncClient, kind: str, payloads: list, n: int) -> dict:
    times = []
    for i in range(n):
        ms, status = await _one(client, kind, payloads[i % len(payloads)])
        if status != 200:
            return {"error": f"HTTP {status}"}
        times.append(ms)
    return {
        "p50_ms": round(statistics.median(times), 2),
        "p99_ms": round(_percentile(times, 0.99), 2),
        "n": n,
    }


async def _concurrent(client: httpx.AsyncClient, jobs: list[tuple[str, bytes | str]], clients: int) -> dict:
    queue: asyncio.Queue[tuple[str, bytes | str]] = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)
    times: list[float] = []
    errors: dict[str, int] = {}

    async def worker() -> None:
        while not queue.empty():
            kind, payload = queue.get_nowait()
            try:
                ms, status = await _one(client, kind, payload)
            except httpx.HTTPError as exc:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                continue
            if status != 200:
                errors[str(status)] = errors.get(str(status), 0) + 1
            times.append(ms)

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    seconds = time.perf_counter() - t0
    return {
        "clients": clients,
        "requests": len(jobs),
        "errors": sum(errors.values()),
        "error_kinds": errors,
        "seconds": round(seconds, 2),
        "requests_per_s": round(len(jobs) / seconds, 1),
        "p50_ms": round(statistics.median(times), 2),
        "p99_ms": round(_percentile(times, 0.99), 2),
    }


async def run(url: str, images: list[bytes], *, clients: int, requests: int, with_text: bool) -> dict:
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        health = (await client.get("/health")).json()
        for payload in images[:3]:  # warm-up
            await _one(client, "image", payload)
        report: dict = {"server": health, "image_query": await _sequential(client, "image", images, 50)}
        if with_text:
            report["text_query"] = await _sequential(client, "text", TEXTS, 50)
        rng = random.Random(0)
        kinds = ["image", "text"] if with_text else ["image"]
        jobs = []
        for i in range(requests):
            kind = kinds[i % len(kinds)]
            jobs.append((kind, rng.choice(images) if kind == "image" else rng.choice(TEXTS)))
        report["load"] = await _concurrent(client, jobs, clients)
        return report


def _start_server(db: Path, model: str | None) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    cmd = [sys.executable, "-m", "pixseek", "serve", "--db", str(db), "--port", str(port)]
    if model:
        cmd += ["--model", model]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=os.environ.copy())
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {proc.stderr.read().decode() if proc.stderr else ''}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("server did not start within 120 s")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", type=Path, help="index to serve (started here on a free port)")
    parser.add_argument("--url", help="an already running server on 127.0.0.1 instead")
    parser.add_argument("--model", help="model to serve with (default: the index's own)")
    parser.add_argument("--images", type=Path, help="query images (default: the fixture images)")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--no-text", action="store_true", help="image queries only (image-only models)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    folder = args.images or Path(__file__).parents[1] / "tests" / "fixtures" / "images"
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in {".png", ".jpg", ".jpeg"})[:64]
    if not files:
        raise SystemExit(f"no query images under {folder}")
    images = [p.read_bytes() for p in files]
    proc = None
    if args.url:
        if urlparse(args.url).hostname not in {"127.0.0.1", "localhost", "::1"}:
            raise SystemExit("--url must be a loopback address")
        url = args.url
    elif args.db:
        proc, url = _start_server(args.db, args.model)
    else:
        raise SystemExit("give --db or --url")
    try:
        report = asyncio.run(
            run(url, images, clients=args.clients, requests=args.requests, with_text=not args.no_text)
        )
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
    report["query_images"] = len(images)
    print(json.dumps(report, indent=2) if args.json else _table(report))


def _table(report: dict) -> str:
    load = report["load"]
    lines = [
        f"server: {report['server']}",
        f"image query: {report['image_query']}",
        f"text query:  {report.get('text_query', 'skipped')}",
        f"load: {load['clients']} clients, {load['requests']} requests in {load['seconds']} s = "
        f"{load['requests_per_s']} req/s, p50 {load['p50_ms']} ms, p99 {load['p99_ms']} ms, "
        f"errors {load['errors']} {load['error_kinds'] or ''}",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
