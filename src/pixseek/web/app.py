"""`create_app(settings)`: the FastAPI app; heavy things (model, index) load once, in the lifespan."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline

import pixseek
from pixseek.services import Index
from pixseek.settings import Settings
from pixseek.web.auth import BearerAuth, is_open
from pixseek.web.batching import EmbedBatcher, ModelRunner
from pixseek.web.deps import AppState
from pixseek.web.errors import install_error_handlers
from pixseek.web.headers import SecurityHeaders
from pixseek.web.limits import BodySizeLimit
from pixseek.web.metrics import Metrics
from pixseek.web.routes import duplicates, images, ops, pages, search
from pixseek.web.throttle import ConcurrencyLimit, RateLimit
from pixseek.web.thumbnails import ThumbnailCache

HERE = Path(__file__).parent
log = logging.getLogger(__name__)
RequestLog = Callable[[str], None]


def request_line(method: str, path: str, status: int, seconds: float) -> str:
    """`GET /search 200 35.2 ms`. The path is percent-encoded, so a `%0A` in it cannot forge a second line."""
    return f"{method} {quote(path)} {status} {1000 * seconds:.1f} ms"


def create_app(
    settings: Settings, *, index: Index | None = None, request_log: RequestLog | None = None
) -> FastAPI:
    """An app over `settings.db` (or over `index`, which tests build with a fake model).

    `request_log`, if given, gets one line per request (see `request_line`); `pixseek serve` writes them to
    stderr. The app itself never prints.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        idx = index if index is not None else Index(settings.db, settings=settings)
        embedder = idx.embedder  # load the model now, not on the first request
        if embedder.has_text:
            embedder.embed_texts(["warm-up"])  # the text tower loads lazily: not on a user's query
        idx.refresh()
        runner = ModelRunner()
        app.state.pixseek = AppState(
            settings=settings,
            index=idx,
            runner=runner,
            batcher=EmbedBatcher(embedder.embed_pixels, runner, max_batch=settings.batch_size),
            thumbnails=ThumbnailCache(max_pixels=settings.max_image_pixels),
            metrics=metrics,
        )
        warming = threading.Thread(target=_warm, args=(app.state.pixseek,), name="pixseek-warm", daemon=True)
        warming.start()
        try:
            yield
        finally:
            await app.state.pixseek.batcher.close()
            runner.close()
            if index is None:
                idx.close()

    metrics = Metrics()
    # FastAPIOffline: /docs loads Swagger UI from the installed package, not a CDN, so it works with no
    # internet. No /redoc: ReDoc's bundle still fetches its logo from cdn.redoc.ly.
    app = FastAPIOffline(
        title="pixseek",
        version=pixseek.__version__,
        description="Content-based image search: query an index by image, text or example.",
        lifespan=lifespan,
        docs_url=None,  # pages.docs_page serves it, with its script in a file for the CSP
        redoc_url=None,
    )
    install_error_handlers(app)
    if settings.api_token is not None:
        app.add_middleware(BearerAuth, token=settings.api_token.get_secret_value())
        _declare_bearer_auth(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_upload_bytes + 64 * 1024)
    if settings.cors_origins:  # off unless asked for: the page and the API share one origin
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization"],
        )
    if settings.rate_limit is not None:
        app.add_middleware(RateLimit, rate=settings.rate_limit)
    app.add_middleware(ConcurrencyLimit, limit=settings.max_concurrent)
    app.add_middleware(SecurityHeaders)

    @app.middleware("http")
    async def _observe(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        start = time.perf_counter()
        status = 500  # what an exception from the route becomes, further out
        try:
            response = await call_next(request)
            status = response.status_code
            route = request.scope.get("route")
            name = getattr(route, "path", "unmatched")  # the template, e.g. /image/{id}: bounded labels
            metrics.observe_request(request.method, name, status, time.perf_counter() - start)
            return response
        finally:
            if request_log is not None:
                seconds = time.perf_counter() - start
                request_log(request_line(request.method, request.scope["path"], status, seconds))

    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for module in (pages, search, images, duplicates, ops):
        app.include_router(module.router)
    return app


def _warm(state: AppState) -> None:
    """Load the ANN index in the background; /ready answers 503 until it is done."""
    try:
        state.index.warm()
    except Exception as exc:  # reported by /ready; searches still try (and report) on their own
        log.exception("could not load the search index")
        state.warm_error = f"{type(exc).__name__}: {exc}"
    finally:
        state.warmed.set()


def _declare_bearer_auth(app: FastAPI) -> None:
    """The OpenAPI schema says which routes need the token, so /docs offers its Authorize button."""
    plain = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = plain()
            schema.setdefault("components", {})["securitySchemes"] = {
                "bearer": {"type": "http", "scheme": "bearer"}
            }
            for path, operations in schema.get("paths", {}).items():
                if not is_open(path):
                    for operation in operations.values():
                        operation["security"] = [{"bearer": []}]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
