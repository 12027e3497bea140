"""Load limits: at most N requests in flight (503 beyond), and, when configured, R requests per second per
client address (429 beyond), each with Retry-After. Health and readiness are never throttled, so a load
balancer sees a busy replica as alive."""

from __future__ import annotations

import json
import time

from starlette.types import ASGIApp, Receive, Scope, Send

EXEMPT = frozenset({"/health", "/ready"})
_MAX_CLIENTS = 10_000  # buckets kept; the idlest are dropped beyond this, so memory stays bounded


async def _refuse(send: Send, status: int, error: str) -> None:
    body = json.dumps({"error": error, "detail": None}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
               (b"retry-after", b"1")]  # fmt: skip
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class ConcurrencyLimit:
    """503 once `limit` requests are already being answered."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit, self.in_flight = app, limit, 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            await _refuse(send, 503, f"server busy: {self.limit} requests in flight; retry shortly")
            return
        self.in_flight += 1  # one event loop: no lock needed between these lines
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1


class RateLimit:
    """A token bucket per client address: `rate` requests per second, bursts of up to `burst`."""

    def __init__(self, app: ASGIApp, rate: float, burst: float | None = None) -> None:
        self.app, self.rate = app, rate
        self.burst = burst if burst is not None else max(1.0, 2 * rate)
        self._buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, when)

    def allow(self, client: str, now: float) -> bool:
        tokens, then = self._buckets.pop(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - then) * self.rate)
        allowed = tokens >= 1.0
        self._buckets[client] = (tokens - 1.0 if allowed else tokens, now)  # re-inserted: newest last
        if len(self._buckets) > _MAX_CLIENTS:
            del self._buckets[next(iter(self._buckets))]  # the least recently seen client
        return allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT:
            await self.app(scope, receive, send)
            return
        client = (scope.get("client") or ("unknown", 0))[0]
        if not self.allow(client, time.monotonic()):
            await _refuse(send, 429, f"too many requests from {client}: at most {self.rate:g} per second")
            return
        await self.app(scope, receive, send)
