"""The body-size middleware on its own, driven as plain ASGI: exact limits, the 413 it sends, pass-through."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.types import Message, Receive, Scope, Send

from pixseek.web.limits import BodySizeLimit

MB = 1024 * 1024
LIMIT = 5 * MB


class _EchoApp:
    """Reads the whole body, then answers 200 with its length; records that it ran."""

    def __init__(self, *, respond_first: bool = False) -> None:
        self.called = False
        self.respond_first = respond_first

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.called = True
        if self.respond_first:  # e.g. a streaming response that starts before the upload ends
            await send({"type": "http.response.start", "status": 200, "headers": []})
        size, more = 0, True
        while more:
            message = await receive()
            size += len(message.get("body", b""))
            more = message.get("more_body", False)
        if not self.respond_first:
            await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(size).encode()})


def _run(app: Any, chunks: list[bytes], *, declared: bytes | None = None) -> list[Message]:
    """Send `chunks` as one request through BodySizeLimit(app, max_bytes=LIMIT); the messages sent back."""
    headers = [(b"content-length", declared)] if declared is not None else []
    scope = {"type": "http", "method": "POST", "path": "/search", "headers": headers}
    pending = list(chunks)
    sent: list[Message] = []

    async def receive() -> Message:
        body = pending.pop(0) if pending else b""
        return {"type": "http.request", "body": body, "more_body": bool(pending)}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(BodySizeLimit(app, max_bytes=LIMIT)(scope, receive, send))
    return sent


def _assert_413(sent: list[Message]) -> None:
    """The exact refusal: JSON naming the limit in whole MB, connection closed (lowercase names, per ASGI)."""
    assert sent == [
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"connection", b"close")],
        },
        {"type": "http.response.body", "body": sent[1]["body"]},
    ]
    assert json.loads(sent[1]["body"]) == {"error": "request body over the 5 MB limit", "detail": None}


def test_a_declared_length_over_the_limit_is_refused_before_the_app_runs() -> None:
    app = _EchoApp()
    _assert_413(_run(app, [b""], declared=str(LIMIT + 1).encode()))
    assert not app.called


def test_a_declared_length_of_exactly_the_limit_is_allowed() -> None:
    sent = _run(_EchoApp(), [b"x" * LIMIT], declared=str(LIMIT).encode())
    assert sent[0]["status"] == 200 and sent[1]["body"] == str(LIMIT).encode()


def test_streamed_bytes_up_to_the_limit_pass_and_one_more_is_refused() -> None:
    """No Content-Length (chunked upload): the bytes actually received are counted, from zero."""
    half = LIMIT // 2
    ok = _run(_EchoApp(), [b"x" * half, b"x" * (LIMIT - half)])
    assert ok[0]["status"] == 200 and ok[1]["body"] == str(LIMIT).encode()
    _assert_413(_run(_EchoApp(), [b"x" * half, b"x" * (LIMIT - half + 1)]))


def test_a_non_numeric_content_length_is_ignored_and_the_stream_still_counted() -> None:
    _assert_413(_run(_EchoApp(), [b"x" * (LIMIT + 1)], declared=b"lots"))


def test_no_second_response_once_the_app_has_started_one() -> None:
    """Past the limit after the app already answered: a second response start would break the protocol."""
    sent = _run(_EchoApp(respond_first=True), [b"x" * LIMIT, b"x"])
    assert [m["type"] for m in sent] == ["http.response.start"]
    assert sent[0]["status"] == 200


def test_other_scopes_pass_through_untouched() -> None:
    """Lifespan (and websocket) traffic is not a request body: same scope, same receive, same send."""
    seen: list[tuple[Scope, Receive, Send]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append((scope, receive, send))

    async def receive() -> Message:
        return {"type": "lifespan.startup"}

    async def send(message: Message) -> None:
        return None

    scope = {"type": "lifespan", "headers": [(b"content-length", str(LIMIT + 1).encode())]}
    asyncio.run(BodySizeLimit(app, max_bytes=LIMIT)(scope, receive, send))
    assert seen == [(scope, receive, send)]
