"""GET /duplicates: the near-duplicate groups, as `pixseek duplicates --json` prints them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool

from pixseek.search.duplicates import DEFAULT_NEIGHBOURS, DEFAULT_THRESHOLD
from pixseek.services.duplicates import DuplicateReport
from pixseek.web.deps import AppState, State
from pixseek.web.schemas import DuplicatesResponse, error_responses

router = APIRouter(tags=["duplicates"])
_KEEP = 4  # reports kept per replica: (catalog version, threshold, neighbours, adapter) -> report


@router.get("/duplicates", response_model=DuplicatesResponse, responses=error_responses(400, 422, 502))
async def duplicates(
    state: State,
    threshold: Annotated[
        float,
        Query(
            ge=-1.0, le=1.0, allow_inf_nan=False, description="Aligned pixel correlation a pair must reach"
        ),
    ] = DEFAULT_THRESHOLD,
    neighbours: Annotated[
        int, Query(ge=1, le=100, description="Nearest neighbours each image proposes")
    ] = DEFAULT_NEIGHBOURS,
    adapter: Annotated[
        bool, Query(description="false: propose neighbours with the frozen vectors, leaving out the adapter")
    ] = True,
) -> dict:
    """Groups of near-duplicates (resized, re-encoded, lightly cropped, brightened, contrast- or
    saturation-edited or converted copies, and exact copies). Computed once per catalog version and
    setting, then answered from memory."""
    report = await run_in_threadpool(_report, state, threshold, neighbours, adapter)
    return report.to_dict()


def _report(state: AppState, threshold: float, neighbours: int, use_adapter: bool) -> DuplicateReport:
    """One computation at a time per replica (each may read many originals): a request waits for the one
    running, then finds its report cached if it asked for the same version and setting."""
    active = state.index.adapter() if use_adapter else None
    adapter = active.created if active is not None else None  # a retrained adapter is another report
    key = (state.index.readiness().version, threshold, neighbours, adapter)
    with state.duplicates_lock:
        cached = state.duplicate_reports.get(key)
        if cached is None:
            cached = state.index.duplicates(
                threshold=threshold, neighbours=neighbours, use_adapter=use_adapter
            )
            while len(state.duplicate_reports) >= _KEEP:
                state.duplicate_reports.pop(next(iter(state.duplicate_reports)))
            state.duplicate_reports[key] = cached
    return cached
