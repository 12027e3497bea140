"""Command-line interface: the only layer that prints and maps errors to exit codes."""

from pixseek.cli.app import app, main, register_commands

register_commands()

__all__ = ["app", "main"]
