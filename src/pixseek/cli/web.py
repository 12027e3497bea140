"""`pixseek serve`: the web app and JSON API over one index."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pixseek.catalog import Catalog
from pixseek.cli.app import app, err_console, handle_errors, make_settings
from pixseek.errors import CatalogError


@app.command("serve")
def serve_command(
    db: Annotated[Path | None, typer.Option("--db", help="Index folder [default: ./pixseek.db]")] = None,
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on")] = 8000,
    model: Annotated[str | None, typer.Option("--model", help="Model name or folder")] = None,
    max_upload_mb: Annotated[
        float | None, typer.Option(min=0.001, help="Largest upload [default: 20]")
    ] = None,
) -> None:
    """Serve the search page at / and the JSON API (docs at /docs)."""
    import uvicorn

    from pixseek.services import Index
    from pixseek.web import create_app

    upload = int(max_upload_mb * 1024 * 1024) if max_upload_mb else None
    settings = make_settings(db=db, model=model, max_upload_bytes=upload)
    with handle_errors():
        if not Catalog.exists(settings.db):
            raise CatalogError(
                f"no index at {settings.db}; build one first with: pixseek index FOLDER --db {settings.db}"
            )
        index = Index(settings.db, model=model, settings=settings)
        _ = index.embedder  # fail here, with a clear message, if the model is missing
    err_console.print(f"pixseek: serving {settings.db} on http://{host}:{port}  (API docs: /docs)")
    uvicorn.run(create_app(settings, index=index), host=host, port=port, log_level="warning")
