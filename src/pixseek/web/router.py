"""`pixseek route`: one search API over several shards, each a `pixseek serve` replica over its own catalog
(for example, one catalog per range of folders or prefixes). A query goes to every shard at once, and
their top-k lists are merged (search.shards): the answer is what one catalog holding every shard's rows
would give.

Only image and text queries pass: `like`, `positive` and `negative` name a row of one shard's catalog,
which the other shards cannot score against. Each shard embeds an uploaded image itself, in parallel.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.datastructures import UploadFile

from pixseek.search.shards import merge_top_k
from pixseek.web.auth import BearerAuth
from pixseek.web.errors import error_response, install_error_handlers
from pixseek.web.headers import SecurityHeaders
from pixseek.web.limits import BodySizeLimit
from pixseek.web.routes.search import too_large
from pixseek.web.throttle import ConcurrencyLimit

ID_TERMS = ("like", "positive", "negative")  # fields naming a row of one shard's catalog
DEFAULT_K = 5
# /ready asks each shard with this limit, not --timeout: a hung shard must not hang the load balancer's probe
READY_TIMEOUT = 5.0


class ShardError(Exception):
    """A shard that did not answer, or answered with a server error: the merged answer would be partial."""


def create_router(
    shards: Sequence[str],
    *,
    api_token: str | None = None,
    timeout: float = 30.0,
    max_upload_bytes: int = 20 * 1024 * 1024,
    max_concurrent: int = 64,
    transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """An app that fans /search out to `shards` (base URLs) and merges their answers. With `api_token`,
    the router asks for it as serve does and sends it on to the shards."""
    shards = [url.rstrip("/") for url in shards]
    if not shards:
        raise ValueError("give at least one shard URL")
    headers = {"Authorization": f"Bearer {api_token}"} if api_token else {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with httpx.AsyncClient(timeout=timeout, headers=headers, transport=transport) as client:
            app.state.client = client
            yield

    app = FastAPI(title="pixseek router", lifespan=lifespan, docs_url=None, redoc_url=None)

    @app.exception_handler(ShardError)
    async def _shard_failed(_: Request, exc: ShardError) -> JSONResponse:
        return error_response(502, str(exc))

    @app.get("/health")
    async def health() -> dict[str, str]:
        """Liveness: the router runs (it says nothing of the shards; see /ready)."""
        return {"status": "ok"}

    @app.get("/ready")
    async def ready(request: Request) -> JSONResponse:
        """Ready when every shard is ready and all serve the same model (scores are comparable only then)."""
        client: httpx.AsyncClient = request.app.state.client
        answers = await asyncio.gather(*(_shard_ready(client, url) for url in shards))
        models = {a.get("model") for a in answers if a["ready"]}
        is_ready = all(a["ready"] for a in answers) and len(models) == 1
        body = {"ready": is_ready, "model": models.pop() if len(models) == 1 else None, "shards": answers}
        return JSONResponse(body, status_code=200 if is_ready else 503)

    @app.post("/search")
    async def search(request: Request) -> JSONResponse:
        """The merged top-k of every shard: the same fields and answer as a replica's POST /search, each
        result with its `shard` and absolute image and thumbnail URLs."""
        started = time.perf_counter()
        form = await request.form()
        params = request.query_params
        named = [term for term in ID_TERMS if form.getlist(term) or params.getlist(term)]
        if named:
            why = "names a row of one shard's catalog; through the router, search by image or text"
            return error_response(400, f"'{named[0]}' {why}")
        k = _k(form.get("k") or params.get("k"))
        if k is None:
            return error_response(422, "k must be a whole number")
        fields, files = await _forwarded(form, max_upload_bytes)
        client: httpx.AsyncClient = request.app.state.client
        replies = await asyncio.gather(
            *(_shard_search(client, url, list(params.multi_items()), fields, files) for url in shards)
        )
        for reply in replies:  # a bad query is bad on every shard: answer as the first one did
            if 400 <= reply.status_code < 500:
                return JSONResponse(
                    _json(reply) or {"error": reply.text[:200], "detail": None}, reply.status_code
                )
        bodies = [_search_body(reply, url) for reply, url in zip(replies, shards, strict=True)]
        merged = merge_top_k([body["results"] for body in bodies], k)
        results = [_absolute(hit, shards[shard]) for shard, hit in merged]
        took = round(1000 * (time.perf_counter() - started), 2)
        per_shard = [
            {"url": url, "took_ms": body.get("took_ms")} for url, body in zip(shards, bodies, strict=True)
        ]
        return JSONResponse(
            {"results": results, "model": bodies[0]["model"], "took_ms": took, "shards": per_shard}
        )

    install_error_handlers(app)  # malformed requests: the replicas' {"error", "detail"} shape
    if api_token:
        app.add_middleware(BearerAuth, token=api_token)
    app.add_middleware(BodySizeLimit, max_bytes=max_upload_bytes + 64 * 1024)
    app.add_middleware(ConcurrencyLimit, limit=max_concurrent)
    app.add_middleware(SecurityHeaders)
    return app


def _json(reply: httpx.Response) -> Any:
    try:
        return reply.json()
    except ValueError:
        return None


def _search_body(reply: httpx.Response, url: str) -> dict[str, Any]:
    body = _json(reply)
    if not isinstance(body, dict) or not isinstance(body.get("results"), list):
        raise ShardError(f"shard {url} answered something other than search results: {reply.text[:200]}")
    return body


def _k(value: Any) -> int | None:
    if value is None:
        return DEFAULT_K
    try:
        return int(str(value))
    except ValueError:
        return None


async def _forwarded(
    form: Any, limit: int
) -> tuple[list[tuple[str, str]], list[tuple[str, tuple[str, bytes, str]]]]:
    """The form's text fields and uploaded files, read once, to send on to every shard; an upload over
    `limit` bytes is a 413 here, as `serve` answers it (the body limit allows the form's overhead)."""
    fields, files = [], []
    for name, value in form.multi_items():
        if isinstance(value, UploadFile):
            data = await value.read(limit + 1)
            if len(data) > limit:
                raise too_large(limit)
            files.append(
                (name, (value.filename or "upload", data, value.content_type or "application/octet-stream"))
            )
        else:
            fields.append((name, str(value)))
    return fields, files


async def _shard_search(
    client: httpx.AsyncClient,
    url: str,
    params: list[tuple[str, str]],
    fields: list[tuple[str, str]],
    files: list[tuple[str, tuple[str, bytes, str]]],
) -> httpx.Response:
    data: dict[str, list[str]] = {}
    for name, value in fields:
        data.setdefault(name, []).append(value)
    try:
        reply = await client.post(f"{url}/search", params=params, data=data, files=files or None)
    except httpx.HTTPError as exc:
        raise ShardError(f"shard {url} did not answer: {_why(exc)}") from exc
    if reply.status_code >= 500 or reply.status_code == 401:
        raise ShardError(f"shard {url} answered {reply.status_code}: {reply.text[:200]}")
    return reply


async def _shard_ready(client: httpx.AsyncClient, url: str) -> dict[str, Any]:
    """The shard's /ready, and whether it takes the router's token: /ready is open to all, so a shard whose
    token differs looked ready while it refused every search. /metrics, cheap and token-guarded, says."""
    try:
        reply = await client.get(f"{url}/ready", timeout=READY_TIMEOUT)
        guarded = (
            await client.get(f"{url}/metrics", timeout=READY_TIMEOUT) if reply.status_code == 200 else None
        )
    except httpx.HTTPError as exc:
        return {"url": url, "ready": False, "error": f"did not answer: {_why(exc)}"}
    body = reply.json() if reply.headers.get("content-type", "").startswith("application/json") else {}
    if guarded is not None and guarded.status_code == 401:
        why = "refuses the router's token (401): give both the same PIXSEEK_API_TOKEN"
        return {"url": url, **body, "ready": False, "error": why}
    return {"url": url, **body, "ready": reply.status_code == 200}


def _why(exc: httpx.HTTPError) -> str:
    """An HTTP failure in words: "ConnectError: All connection attempts failed", "ReadTimeout"."""
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _absolute(hit: dict[str, Any], shard: str) -> dict[str, Any]:
    """A shard's result with the shard named, and its links made absolute (they are relative to it)."""
    out = dict(hit, shard=shard)
    for link in ("image_url", "thumbnail_url"):
        if isinstance(out.get(link), str) and out[link].startswith("/"):
            out[link] = f"{shard}{out[link]}"
    return out
