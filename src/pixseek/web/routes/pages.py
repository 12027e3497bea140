"""The search page: server-rendered shell, plain JS does the rest; and its favicon."""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.templating import Jinja2Templates

from pixseek.search.duplicates import DEFAULT_THRESHOLD
from pixseek.types import IMAGE_EXTENSIONS
from pixseek.web.deps import State

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parents[1] / "templates")
# The icon fastapi-offline ships for /docs; one icon for the page and the docs, and no 404 in every log.
FAVICON = Path(fastapi_offline.__file__).parent / "static" / "favicon.png"
K_CHOICES = (5, 10, 20, 50, 100)  # the page's Results menu
K_DEFAULT = 20


@router.get("/", response_class=HTMLResponse)
def index_page(request: Request, state: State) -> HTMLResponse:
    """The page shell. With an API token set it holds no data: the page asks for the token, then fills
    in the count, model and labels from GET /info."""
    locked = state.settings.api_token is not None
    info = None if locked else state.index.info()
    return templates.TemplateResponse(
        request,
        "index.html",
        {
            "locked": locked,
            "model": info.model if info else "",
            "images": info.images if info else 0,
            "labels": [] if locked else state.index.labels(),
            "has_text": state.index.embedder.has_text,
            "adapter": info is not None and info.adapter is not None,
            **k_choices(state.settings.max_k),
            # the picker offers what the server decodes: "image/*" also offers SVG, HEIC and others
            "accept": ",".join(sorted(IMAGE_EXTENSIONS)),
        },
    )


def k_choices(max_k: int) -> dict[str, object]:
    """The page's Results choices: the usual sizes up to `max_k`, and `max_k` itself when it is smaller
    than the largest (a server that allows only 3 still offers 3); 20 is chosen, or the largest below it."""
    choices = sorted({n for n in K_CHOICES if n <= max_k} | ({max_k} if max_k < K_CHOICES[-1] else set()))
    return {"k_choices": choices, "k_default": max(n for n in choices if n <= K_DEFAULT)}


@router.get("/view/duplicates", response_class=HTMLResponse)
def duplicates_page(request: Request, state: State) -> HTMLResponse:
    """The near-duplicate groups (from GET /duplicates), with thumbnails."""
    context = {"locked": state.settings.api_token is not None, "threshold": DEFAULT_THRESHOLD}
    return templates.TemplateResponse(request, "duplicates.html", context)


@router.get("/docs", response_class=HTMLResponse)
def docs_page(request: Request) -> HTMLResponse:
    """Swagger UI from the installed package (no internet needed), with no inline script."""
    return templates.TemplateResponse(request, "docs.html", {})


@router.get("/favicon.ico")
def favicon() -> FileResponse:
    return FileResponse(FAVICON, media_type="image/png")
