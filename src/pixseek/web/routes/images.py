"""Indexed images and their thumbnails, by id; never a file the index does not hold."""

from __future__ import annotations

import mimetypes
from collections.abc import Callable
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse

from pixseek.errors import NotInIndexError, SourceChangedError
from pixseek.locations import is_object_store
from pixseek.models.imageio import ImageSource
from pixseek.services import ImageRecord
from pixseek.web.deps import AppState, State, find_record
from pixseek.web.errors import error_response
from pixseek.web.schemas import error_responses

router = APIRouter(tags=["images"])
_CACHE = "private, max-age=3600"


@router.get("/image/{id}", responses=error_responses(404, 409, 502), response_class=FileResponse)
def image_by_id(id: str, state: State) -> Response:
    """The original file of an indexed image (fetched from the store for a row indexed from one)."""
    return _serve(state, find_record(state.index, id))


@router.get("/image", responses=error_responses(404, 409, 422, 502), response_class=FileResponse)
def image_by_path(
    state: State, path: Annotated[str, Query(description="An indexed path (relative or absolute)")]
) -> Response:
    """Kept for the paper's clients: answers only for a path exactly as the index holds it."""
    record = find_record(state.index, path)
    if path not in (record.path, _location(record)):  # an id is not a path here
        raise NotInIndexError(f"{path!r} is not in the index")
    return _serve(state, record)


@router.get("/thumbnail/{id}", responses=error_responses(404, 409, 413, 415, 502), response_class=Response)
async def thumbnail(id: str, state: State) -> Response:
    """A JPEG at most 320 px on a side, cached."""
    record = await run_in_threadpool(find_record, state.index, id)
    stale = await run_in_threadpool(_remote_stale if is_remote(record) else _stale_local, state, record)
    if stale is not None:
        return stale
    read: Callable[[], ImageSource] = (
        partial(state.object_source(record.root).read, record.path)
        if is_remote(record)
        else lambda: record.absolute_path
    )
    data = await run_in_threadpool(
        state.thumbnails.get, _location(record), size=record.size, mtime_ns=record.mtime_ns, read=read
    )
    return Response(
        data, media_type="image/jpeg", headers={"Cache-Control": _CACHE, "ETag": f'"{record.content_hash}-t"'}
    )


def _serve(state: AppState, record: ImageRecord) -> Response:
    media = mimetypes.guess_type(record.path)[0] or "application/octet-stream"
    if is_remote(record):
        original = _fetch(state, record)
        if isinstance(original, Response):
            return original
        headers = {"Cache-Control": _CACHE, "ETag": f'"{record.content_hash}"'}
        return Response(original, media_type=media, headers=headers)
    stale = _stale(record)
    if stale is not None:
        return stale
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


def is_remote(record: ImageRecord) -> bool:
    return is_object_store(record.root)


def _location(record: ImageRecord) -> str:
    return f"{record.root}/{record.path}" if is_remote(record) else str(record.absolute_path)


def _stale_local(_: AppState, record: ImageRecord) -> Response | None:
    return _stale(record)


def _remote_stale(state: AppState, record: ImageRecord) -> Response | None:
    """None while the object is the one that was indexed (one metadata request), else the error."""
    fetched = _fetch(state, record, check_only=True)
    return fetched if isinstance(fetched, Response) else None


def _fetch(state: AppState, record: ImageRecord, *, check_only: bool = False) -> bytes | Response:
    """An object-store row's bytes, only while the object is the one that was indexed."""
    where = _location(record)
    source = state.object_source(record.root)
    try:
        if check_only:
            source.check_unchanged(record.path, size=record.size, mtime_ns=record.mtime_ns)
            return b""
        return source.read_if_unchanged(record.path, size=record.size, mtime_ns=record.mtime_ns)
    except FileNotFoundError:
        return error_response(404, f"{where!r} is indexed but no longer in the store; re-run pixseek index")
    except SourceChangedError:
        return error_response(409, f"{where!r} changed since it was indexed; re-run pixseek index")
    except OSError as exc:
        return error_response(502, f"cannot read {where!r} from the object store: {exc}")
