"""Load limits: requests in flight beyond the limit get 503, a client over its rate gets 429, both with
Retry-After; health and readiness are never throttled."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi.testclient import TestClient

from pixseek.services import Index
from pixseek.settings import Settings
from pixseek.web import create_app
from pixseek.web.throttle import ConcurrencyLimit, RateLimit


def test_a_client_over_its_rate_gets_429_and_others_do_not(web_index: Index, web_settings: Settings) -> None:
    settings = web_settings.model_copy(update={"rate_limit": 2.0})  # bursts of 4, then 2 per second
    with TestClient(create_app(settings, index=web_index)) as client:
        codes = [client.post("/search", data={"text": "a cat", "k": 1}).status_code for _ in range(8)]
        assert codes[:4] == [200] * 4 and 429 in codes[4:]
        refused = client.post("/search", data={"text": "a cat", "k": 1})
        assert refused.status_code == 429 and refused.headers["retry-after"] == "1"
        assert refused.json()["error"] == "too many requests from testclient: at most 2 per second"
        assert client.get("/health").status_code == 200 and client.get("/ready").status_code == 200


def test_a_bucket_refills_at_the_rate() -> None:
    limit = RateLimit(app=None, rate=2.0, burst=2.0)  # type: ignore[arg-type]
    assert [limit.allow("a", 0.0) for _ in range(3)] == [True, True, False]
    assert limit.allow("b", 0.0)  # another client has its own bucket
    assert not limit.allow("a", 0.4)  # 0.8 tokens
    assert limit.allow("a", 0.6)  # 1.2 tokens: one request


def test_requests_beyond_the_concurrency_limit_get_503() -> None:
    release = asyncio.Event()

    async def slow_app(scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"done"})

    app = ConcurrencyLimit(slow_app, limit=2)

    async def scenario() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            held = [asyncio.create_task(client.get("/search")) for _ in range(2)]
            await asyncio.sleep(0.05)
            busy = await client.get("/search")
            health = asyncio.create_task(client.get("/health"))  # exempt: passes the limit (and waits)
            await asyncio.sleep(0.05)
            release.set()
            done = [await t for t in held]
            return [busy.status_code, int(busy.headers["retry-after"]), *(r.status_code for r in done),
                    (await health).status_code, app.in_flight]  # fmt: skip

    assert asyncio.run(scenario()) == [503, 1, 200, 200, 200, 0]


@pytest.mark.parametrize("field", ["max_concurrent", "rate_limit"])
def test_limits_must_be_positive(field: str) -> None:
    with pytest.raises(ValueError, match=field):
        Settings(**{field: 0})
