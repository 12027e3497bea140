"""`create_app(settings)`: the FastAPI app; heavy things (model, index) load once, in the lifespan."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles

import pixseek
from pixseek.services import Index
from pixseek.settings import Settings
from pixseek.web.batching import EmbedBatcher, ModelRunner
from pixseek.web.deps import AppState
from pixseek.web.errors import install_error_handlers
from pixseek.web.limits import BodySizeLimit
from pixseek.web.metrics import Metrics
from pixseek.web.routes import images, ops, pages, search
from pixseek.web.thumbnails import ThumbnailCache

HERE = Path(__file__).parent


def create_app(settings: Settings, *, index: Index | None = None) -> FastAPI:
    """An app over `settings.db` (or over `index`, which tests build with a fake model)."""

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
        try:
            yield
        finally:
            await app.state.pixseek.batcher.close()
            runner.close()
            if index is None:
                idx.close()

    metrics = Metrics()
    app = FastAPI(
        title="pixseek",
        version=pixseek.__version__,
        description="Content-based image search: query an index by image, text or example.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_upload_bytes + 64 * 1024)

    @app.middleware("http")
    async def _observe(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        start = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        name = getattr(route, "path", "unmatched")  # the template, e.g. /image/{id}: bounded labels
        metrics.observe_request(request.method, name, response.status_code, time.perf_counter() - start)
        return response

    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for module in (pages, search, images, ops):
        app.include_router(module.router)
    return app
