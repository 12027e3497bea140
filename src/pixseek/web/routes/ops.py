"""Liveness (/health), readiness (/ready), index info (/info) and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

from pixseek.web.deps import State
from pixseek.web.schemas import Health, Info, Ready, error_responses, open_errors

router = APIRouter(tags=["ops"])


@router.get("/health", response_model=Health)
def health(state: State) -> Health:
    """Liveness: answered from memory (the catalog version being served), never from the store, so an
    outage of the store does not get a healthy replica restarted."""
    images, model = state.index.served()
    return Health(status="ok", images=images, model=model)


@router.get("/info", response_model=Info, responses=error_responses(502))
def info(state: State) -> Info:
    """The index's size, model and labels, and whether the model has text search."""
    summary = state.index.info()
    return Info(
        images=summary.images,
        model=summary.model,
        labels=state.index.labels(),
        has_text=state.index.embedder.has_text,
        max_k=state.settings.max_k,
        adapter=summary.adapter,
    )


_READY_ERRORS = open_errors(502) | {503: {"model": Ready, "description": "not ready yet, or warm-up failed"}}


@router.get("/ready", response_model=Ready, responses=_READY_ERRORS)
def ready(state: State) -> Response:
    """Readiness for a load balancer: 503 until the ANN index (when searches use one) is loaded.

    /health is liveness: it answers as soon as the app runs.
    """
    info = state.index.readiness()
    if state.warm_error is not None:
        status, code = "failed", 503
    elif state.warmed.is_set():
        status, code = "ready", 200
    else:
        status, code = "loading", 503
    body = Ready(status=status, error=state.warm_error, **info.to_dict())
    return JSONResponse(body.model_dump(), status_code=code)


@router.get("/metrics", response_class=Response, responses=error_responses())
def metrics(state: State) -> Response:
    return Response(state.metrics.render(), media_type=CONTENT_TYPE_LATEST)
