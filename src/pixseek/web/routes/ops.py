"""Health and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST

from pixseek.web.deps import State
from pixseek.web.schemas import Health

router = APIRouter(tags=["ops"])


@router.get("/health", response_model=Health)
def health(state: State) -> Health:
    info = state.index.info()
    return Health(status="ok", images=info.images, model=info.model)


@router.get("/metrics", response_class=Response)
def metrics(state: State) -> Response:
    return Response(state.metrics.render(), media_type=CONTENT_TYPE_LATEST)
