"""Errors -> JSON: bad input is always a 4xx with `{"error", "detail"}`, never a 500."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from pixseek.errors import (
    AmbiguousPathError,
    ImageReadError,
    ImageTooLargeError,
    NotInIndexError,
    PixseekError,
    QueryError,
    StorageError,
    TextNotSupportedError,
)


def status_for(exc: PixseekError) -> int:
    if isinstance(exc, NotInIndexError):
        return 404
    if isinstance(exc, StorageError):
        return 502  # the catalog's store cannot be read: not the caller's fault, and may pass
    if isinstance(exc, AmbiguousPathError):
        return 409
    if isinstance(exc, ImageTooLargeError):
        return 413
    if isinstance(exc, ImageReadError):
        return 415
    if isinstance(exc, QueryError | TextNotSupportedError):
        return 400
    return 400


def error_response(status: int, error: str, detail: object | None = None) -> JSONResponse:
    return JSONResponse({"error": error, "detail": jsonable_encoder(detail)}, status_code=status)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(PixseekError)
    async def _pixseek(_: Request, exc: PixseekError) -> JSONResponse:
        reason = exc.reason if isinstance(exc, ImageReadError) else str(exc)
        detail = {"matches": exc.matches} if isinstance(exc, AmbiguousPathError) else None
        return error_response(status_for(exc), reason, detail)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        # Only where and why: echoing the input back could mean echoing binary upload bytes.
        detail = [{k: e.get(k) for k in ("loc", "msg", "type")} for e in exc.errors()]
        return error_response(422, "invalid request", detail)

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        return error_response(exc.status_code, str(exc.detail))
