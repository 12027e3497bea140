"""`pixseek serve`: the web app and JSON API over one index; `pixseek bench search`: serving at N vectors."""

from __future__ import annotations

import errno
import ipaddress
import socket
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from pixseek.catalog import Catalog
from pixseek.cli.app import (
    JsonOption,
    app,
    bench_app,
    console,
    err_console,
    handle_errors,
    make_settings,
    print_json,
)
from pixseek.errors import CatalogError, PixseekError, QueryError

GRACEFUL_SHUTDOWN_SECONDS = 30


@app.command("serve")
def serve_command(  # noqa: PLR0917 - Typer maps parameters to options
    db: Annotated[
        str | None,
        typer.Option("--db", help="Index folder or s3://B/P URI [default: ./pixseek.db]"),
    ] = None,
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on")] = 8000,
    model: Annotated[str | None, typer.Option("--model", help="Model name or folder")] = None,
    max_upload_mb: Annotated[
        float | None, typer.Option(min=0.001, max=1_048_576, help="Largest upload, in MiB [default: 20]")
    ] = None,
    quiet: Annotated[
        bool,
        typer.Option("--quiet", "-q", help="Do not log a line per request (METHOD PATH STATUS MS) on stderr"),
    ] = False,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            help="Require 'Authorization: Bearer TOKEN' on the API (prefer PIXSEEK_API_TOKEN: a command "
            "line is visible to other users)",
        ),
    ] = None,
    insecure_public: Annotated[
        bool,
        typer.Option("--insecure-public", help="Allow a non-loopback --host without a token"),
    ] = False,
    max_concurrent: Annotated[
        int | None, typer.Option(min=1, help="Requests in flight before answering 503 [default: 64]")
    ] = None,
    rate_limit: Annotated[
        float | None, typer.Option(min=0.001, help="Requests per second per client address (429 beyond)")
    ] = None,
    cors_origin: Annotated[
        list[str] | None,
        typer.Option(
            "--cors-origin", help="An origin whose pages may call the API (CORS); repeat; none by default"
        ),
    ] = None,
) -> None:
    """Serve the search page at / and the JSON API (docs at /docs).

    Each request is logged as one line on stderr, e.g. `GET /search 200 35.2 ms`, unless --quiet. With a
    token (--token or PIXSEEK_API_TOKEN) every route but the pages (/, /view/duplicates), /health, /ready,
    /favicon.ico, the docs and static files needs it; a --host other than a loopback address is refused
    without one unless --insecure-public.
    """
    import uvicorn

    from pixseek.services import Index
    from pixseek.web import create_app

    upload = int(max_upload_mb * 1024 * 1024) if max_upload_mb else None
    with handle_errors():
        settings = make_settings(
            db=db,
            model=model,
            max_upload_bytes=upload,
            api_token=token,
            cors_origins=tuple(cors_origin or ()) or None,
            max_concurrent=max_concurrent,
            rate_limit=rate_limit,
        )
        if settings.api_token is None and not insecure_public and not is_loopback(host):
            raise QueryError(
                f"--host {host} would let anyone on the network search this index; set a token with "
                "PIXSEEK_API_TOKEN=... (or --token), or pass --insecure-public to serve it without one"
            )
        if not Catalog.exists(settings.db):
            raise CatalogError(
                f"no index at {settings.db}; build one first with: pixseek index FOLDER --db {settings.db}"
            )
        index = Index(settings.db, model=model, settings=settings)
        _ = index.embedder  # fail here, with a clear message, if the model is missing
        listening = listen_on(host, port)
    err_console.print(f"pixseek: serving {settings.db} on http://{host}:{port}  (API docs: /docs)")
    web_app = create_app(settings, index=index, request_log=None if quiet else _to_stderr)
    # access_log=False: the app logs each request itself; uvicorn's line would double it.
    # SIGTERM/SIGINT: stop accepting at once, let requests in flight finish, but wait at most this long.
    config = uvicorn.Config(
        web_app, log_level="warning", access_log=False, timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS
    )
    uvicorn.Server(config).run(sockets=[listening])


@app.command("route")
def route_command(  # noqa: PLR0917 - Typer maps parameters to options
    shard: Annotated[
        list[str], typer.Option("--shard", help="A shard replica's base URL (pixseek serve); repeat for each")
    ],
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on")] = 8000,
    timeout: Annotated[float, typer.Option(min=0.1, help="Seconds to wait for each shard")] = 30.0,
    insecure_public: Annotated[
        bool, typer.Option("--insecure-public", help="Allow a non-loopback --host without a token")
    ] = False,
    max_concurrent: Annotated[
        int | None, typer.Option(min=1, help="Requests in flight before answering 503 [default: 64]")
    ] = None,
) -> None:
    """One search API over several shards, each a `pixseek serve` replica over its own catalog.

    POST /search goes to every shard at once and answers the best k of their top-k lists: what one catalog
    holding all their images would answer. Search by image or text (ids name rows of one shard only).
    /ready is 200 when every shard is ready with the same model. PIXSEEK_API_TOKEN, when set, is asked of
    callers and sent on to the shards.
    """
    import uvicorn

    from pixseek.web.router import create_router

    with handle_errors():
        settings = make_settings(max_concurrent=max_concurrent)
        token = settings.api_token.get_secret_value() if settings.api_token else None
        if token is None and not insecure_public and not is_loopback(host):
            raise QueryError(
                f"--host {host} would let anyone on the network search the shards; set a token with "
                "PIXSEEK_API_TOKEN=..., or pass --insecure-public to serve it without one"
            )
        bad = [url for url in shard if not url.startswith(("http://", "https://"))]
        if bad:
            raise QueryError(f"--shard {bad[0]} is not an http:// or https:// URL")
        listening = listen_on(host, port)
    err_console.print(f"pixseek: routing {len(shard)} shards on http://{host}:{port}")
    web_app = create_router(
        shard,
        api_token=token,
        timeout=timeout,
        max_upload_bytes=settings.max_upload_bytes,
        max_concurrent=settings.max_concurrent,
    )
    config = uvicorn.Config(web_app, log_level="warning", timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS)
    uvicorn.Server(config).run(sockets=[listening])


def listen_on(host: str, port: int) -> socket.socket:
    """The listening socket, bound here rather than by uvicorn: a port in use (or a host that is not this
    machine's) is then one error line before anything is printed, not uvicorn's log and exit 3."""
    listening = None
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        listening = socket.socket(family, kind, proto)
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn: restart at once
        listening.bind(address)
    except OSError as exc:
        if listening is not None:
            listening.close()
        why = exc.strerror or str(exc)
        remedy = (
            "stop what holds it or choose another --port"
            if exc.errno == errno.EADDRINUSE
            else "give --host an address of this machine (127.0.0.1, 0.0.0.0, or one of its own)"
        )
        raise PixseekError(f"cannot listen on {host}:{port}: {why}; {remedy}") from None
    return listening


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and localhost; anything else (0.0.0.0, a LAN address, a name) is public."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _to_stderr(line: str) -> None:
    """One request line, as is (no markup, no wrapping); sys.stderr is looked up per call."""
    typer.echo(line, err=True)


@bench_app.command("search")
def bench_search_command(  # noqa: PLR0917 - Typer maps parameters to options
    n: Annotated[int, typer.Option("--n", min=1_000, help="Synthetic vectors in the catalog")] = 1_000_000,
    data: Annotated[
        str, typer.Option(help="clustered (embedding-like) or random (uniform on the sphere)")
    ] = ("clustered"),
    index: Annotated[
        str, typer.Option(help="auto (what serve picks at this size), exact, ivf-flat or ivf-pq")
    ] = "auto",
    queries: Annotated[
        int, typer.Option(min=10, help="Queries timed, and checked against exact search")
    ] = 200,
    dim: Annotated[int, typer.Option(min=8, help="Vector dimensions")] = 512,
    keep: Annotated[
        Path | None,
        typer.Option(
            help="Build the catalog in this new folder and keep it [default: a temp folder]", readable=False
        ),
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Search at N vectors through the serving path: build time, p50/p99 latency, recall@10, RSS, disk."""
    from pixseek.services import search_bench

    with handle_errors(json_out=json_out):
        if data not in ("clustered", "random") or index not in ("auto", "exact", "ivf-flat", "ivf-pq"):
            raise QueryError("--data is clustered or random; --index is auto, exact, ivf-flat or ivf-pq")
        opts = search_bench.SearchBenchOptions(n=n, data=data, dim=dim, queries=queries, index=index)  # type: ignore[arg-type]
        if keep is not None and keep.exists():
            raise QueryError(f"{keep} exists; give a new folder to --keep")
        with tempfile.TemporaryDirectory(prefix="pixseek-bench-search-") as tmp:
            db = keep or Path(tmp) / "db"
            result = search_bench.run(db, opts, settings=make_settings())
    if json_out:
        print_json(result)
        return
    r = result
    console.print(
        f"{r['n']:,} {r['data']} vectors, {r['index']}: build {r['build_seconds']:.1f} s, "
        f"p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms, recall@10 {r['recall_at_10']:.3f}, "
        f"RSS {r['rss_mb']:.0f} MB, {r['bytes_on_disk'] / 1e9:.2f} GB on disk",
        highlight=False,
    )
