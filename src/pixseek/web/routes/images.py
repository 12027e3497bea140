"""Indexed images and their thumbnails, by id; never a file the index does not hold."""

from __future__ import annotations

import mimetypes
from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse

from pixseek.services import ImageRecord
from pixseek.web.deps import State, find_record
from pixseek.web.errors import NotInIndexError, error_response
from pixseek.web.schemas import ERROR_RESPONSES

router = APIRouter(tags=["images"])
_CACHE = "private, max-age=3600"


@router.get("/image/{id}", responses=ERROR_RESPONSES, response_class=FileResponse)
def image_by_id(id: str, state: State) -> Response:
    """The original file of an indexed image."""
    return _serve(find_record(state.index, id))


@router.get("/image", responses=ERROR_RESPONSES, response_class=FileResponse)
def image_by_path(
    state: State, path: Annotated[str, Query(description="An indexed path (relative or absolute)")]
) -> Response:
    """Kept for the paper's clients: answers only for a path exactly as the index holds it."""
    record = find_record(state.index, path)
    if path not in (record.path, str(record.absolute_path)):  # an id is not a path here
        raise NotInIndexError(f"{path!r} is not in the index")
    return _serve(record)


@router.get("/thumbnail/{id}", responses=ERROR_RESPONSES, response_class=Response)
async def thumbnail(id: str, state: State) -> Response:
    """A JPEG at most 320 px on a side, cached."""
    record = await run_in_threadpool(find_record, state.index, id)
    stale = _stale(record)
    if stale is not None:
        return stale
    data = await run_in_threadpool(
        state.thumbnails.get, record.absolute_path, size=record.size, mtime_ns=record.mtime_ns
    )
    return Response(
        data, media_type="image/jpeg", headers={"Cache-Control": _CACHE, "ETag": f'"{record.content_hash}-t"'}
    )


def _serve(record: ImageRecord) -> Response:
    stale = _stale(record)
    if stale is not None:
        return stale
    media = mimetypes.guess_type(record.path)[0] or "application/octet-stream"
    return FileResponse(
        record.absolute_path,
        media_type=media,
        headers={"Cache-Control": _CACHE, "ETag": f'"{record.content_hash}"'},
    )


def _stale(record: ImageRecord) -> Response | None:
    """Serve only the very file that was indexed: a swapped file or symlink is refused, not followed."""
    try:
        st = record.absolute_path.stat()
    except OSError:
        return error_response(404, f"{record.path!r} is indexed but no longer on disk; re-run pixseek index")
    if st.st_size != record.size or st.st_mtime_ns != record.mtime_ns:
        return error_response(409, f"{record.path!r} changed since it was indexed; re-run pixseek index")
    return None
