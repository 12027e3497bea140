"""The Typer root app, shared CLI helpers; command groups live in sibling modules."""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from pixseek.errors import PixseekError
from pixseek.settings import Settings

app = typer.Typer(
    name="pixseek",
    help="Content-based image search with CLIP: index folders, search by image or text, evaluate.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
model_app = typer.Typer(help="Manage models: export, list.", no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks anyone can rerun.", no_args_is_help=True)
app.add_typer(model_app, name="model")
app.add_typer(bench_app, name="bench")

# soft_wrap: messages and paths are never broken mid-line (they may be copied or parsed).
console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)

# Each module adds its commands to `app`, `model_app` or `bench_app` on import.
_COMMAND_MODULES = ("models", "indexing", "web", "evaluation")


def make_settings(**overrides: Any) -> Settings:
    """Settings from the environment, with CLI options that were given (not None) on top."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


@contextmanager
def handle_errors() -> Iterator[None]:
    """Turn pixseek's typed errors into a one-line message and exit code 1; no tracebacks."""
    try:
        yield
    except PixseekError as exc:
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}", markup=True, highlight=False)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        err_console.print("interrupted")
        raise typer.Exit(130) from None


def print_json(data: Any) -> None:
    """Machine-readable output on stdout, nothing else."""
    typer.echo(json.dumps(data, indent=2, default=str))


def register_commands() -> None:
    """Import every command module so its commands attach to the apps above."""
    for name in _COMMAND_MODULES:
        importlib.import_module(f"pixseek.cli.{name}")


def main() -> None:
    """Console-script entry point."""
    app()
