"""The Typer root app, shared CLI helpers; command groups live in sibling modules."""

from __future__ import annotations

import importlib
import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from pixseek.errors import AmbiguousPathError, PixseekError
from pixseek.settings import Settings, load_settings

app = typer.Typer(
    name="pixseek",
    help="Content-based image search with CLIP: index folders, search by image or text, evaluate.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help is plain text: rich markup ate "[torch]" and "[default: 20]"
)
model_app = typer.Typer(help="Manage models: export, list.", no_args_is_help=True, rich_markup_mode=None)
bench_app = typer.Typer(help="Benchmarks anyone can rerun.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(model_app, name="model")
app.add_typer(bench_app, name="bench")

# soft_wrap: messages and paths are never broken mid-line (they may be copied or parsed).
console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON")]

# Each module adds its commands to `app`, `model_app` or `bench_app` on import.
_COMMAND_MODULES = ("models", "indexing", "forget", "web", "evaluation", "duplicates", "adapt")


def make_settings(**overrides: Any) -> Settings:
    """Settings from the environment, with CLI options that were given (not None) on top; a bad value is
    a SettingsError naming the setting and its variable (call it inside `handle_errors`)."""
    return load_settings("its option", **overrides)


# A string, not a Path: a Path folds s3://bucket/index into s3:/bucket/index.
DbOption = Annotated[
    str | None,
    typer.Option("--db", help="Index folder or s3://B/P URI [default: ./pixseek.db]"),
]
ModelOption = Annotated[str | None, typer.Option("--model", help="Model name or folder")]
WaitOption = Annotated[float, typer.Option("--wait", min=0, help="Seconds to wait for another writer's lock")]


EXIT_CODES_HELP = (
    "Exit codes: 0 done; 1 error (one line on stderr, or JSON on stdout with --json); 2 bad command line; "
    "3 some files failed (index --strict); 130 interrupted."
)
EXIT_ERROR, EXIT_FILES_FAILED, EXIT_INTERRUPTED = 1, 3, 130
_DEBUG_ENV = "PIXSEEK_DEBUG"


def _os_error_message(exc: OSError) -> str:
    """'PATH: cause' for a disk full, read-only folder, permission error and the like."""
    cause = exc.strerror or str(exc)
    return f"{exc.filename}: {cause}" if exc.filename else cause


@contextmanager
def handle_errors(*, json_out: bool = False) -> Iterator[None]:
    """Turn errors into one line on stderr (or `{"error", "detail"}` on stdout with --json) and exit 1.

    No tracebacks, unless --debug (or PIXSEEK_DEBUG=1) asks for them.
    """
    try:
        yield
    except (PixseekError, OSError) as exc:
        if os.environ.get(_DEBUG_ENV):
            raise
        message = _os_error_message(exc) if isinstance(exc, OSError) else str(exc)
        detail = {"type": type(exc).__name__} | (
            {"matches": exc.matches} if isinstance(exc, AmbiguousPathError) else {}
        )
        if json_out:
            print_json({"error": message, "detail": detail})
        else:
            line = shown_path(message)  # a newline in a path the message names stays on the one line
            err_console.print(f"[bold red]error:[/] {escape(line)}", markup=True, highlight=False)
        raise typer.Exit(EXIT_ERROR) from None
    except KeyboardInterrupt:
        err_console.print("interrupted")
        raise typer.Exit(EXIT_INTERRUPTED) from None


def print_json(data: Any) -> None:
    """Machine-readable output on stdout, nothing else."""
    typer.echo(json.dumps(data, indent=2, default=str))


def shown_path(path: str) -> str:
    """A path for a human line: control characters (a newline in a file name) escaped as Python writes
    them, so one path stays one line; --json carries the path exactly."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in path)


def register_commands() -> None:
    """Import every command module so its commands attach to the apps above."""
    for name in _COMMAND_MODULES:
        importlib.import_module(f"pixseek.cli.{name}")


@app.callback(epilog=EXIT_CODES_HELP)
def root(
    debug: bool = typer.Option(False, "--debug", help="Show a traceback with errors (or PIXSEEK_DEBUG=1)"),
) -> None:
    """Content-based image search with CLIP: index folders, search by image or text, evaluate."""
    if debug:
        os.environ[_DEBUG_ENV] = "1"  # read by handle_errors, in this process only


def show_library_messages() -> None:
    """Library code logs what takes a while (a model made on first use); show those lines on stderr."""
    logger = logging.getLogger("pixseek")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("pixseek: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


def main() -> None:
    """Console-script entry point."""
    show_library_messages()
    app()
