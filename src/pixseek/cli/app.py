"""The Typer root app; command groups live in sibling modules and register themselves here."""

from __future__ import annotations

import importlib

import typer

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

# Each module adds its commands to `app`, `model_app` or `bench_app` on import.
_COMMAND_MODULES = ("models", "indexing", "web", "evaluation")


def register_commands() -> None:
    """Import every command module so its commands attach to the apps above."""
    for name in _COMMAND_MODULES:
        try:
            importlib.import_module(f"pixseek.cli.{name}")
        except ModuleNotFoundError as exc:  # TODO(lead): drop once every module exists
            if exc.name != f"pixseek.cli.{name}":
                raise


def main() -> None:
    """Console-script entry point."""
    app()
