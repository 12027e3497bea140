"""The import rules ARCHITECTURE.md states, read from the source with `ast` (lazy imports inside functions
count): layers import only the layers above them, models, catalog and search never import each other, only
catalog imports lancedb, and only cli and web print, exit or speak HTTP."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "pixseek"

# ARCHITECTURE.md's diagram, top (0) to bottom (4)
LAYER = {
    "errors": 0, "settings": 0, "types": 0, "locations": 0,
    "models": 1, "catalog": 1, "search": 1,
    "indexing": 2, "evaluation": 2,
    "services": 3,
    "cli": 4, "web": 4,
}  # fmt: skip
ALLOWED_SIDEWAYS = {("cli", "web")}  # `pixseek serve` builds the web app
ENTRY_POINTS = {"__init__", "__main__"}  # the package's own re-exports and `python -m pixseek`


def _modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        part = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
        if part not in ENTRY_POINTS:
            yield part, path


def _imports(path: Path) -> Iterator[tuple[str, int]]:
    """(top-level module name, line) of every import, relative ones resolved inside pixseek."""
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                yield "pixseek.<relative>", node.lineno
            elif node.module == "pixseek":  # `from pixseek import services` imports pixseek.services
                for alias in node.names:
                    yield f"pixseek.{alias.name}", node.lineno
            elif node.module:
                yield node.module, node.lineno


def _where(path: Path, line: int) -> str:
    return f"{path.relative_to(PACKAGE.parent)}:{line}"


def test_every_top_level_part_has_a_layer() -> None:
    parts = {p.name.removesuffix(".py") for p in PACKAGE.iterdir() if p.suffix == ".py" or p.is_dir()}
    assert parts - ENTRY_POINTS - {"__pycache__"} == set(LAYER)


def _may_import(part: str, target: str) -> bool:
    """The base modules import only errors and locations; every other layer, the layers above it."""
    if target == part or (part, target) in ALLOWED_SIDEWAYS:
        return True
    if LAYER[part] == 0:
        return target in ("errors", "locations")
    return target in LAYER and LAYER[target] < LAYER[part]


def test_layers_import_only_the_layers_above_them() -> None:
    wrong = []
    for part, path in _modules():
        for name, line in _imports(path):
            if name == "pixseek.<relative>":
                wrong.append(f"{_where(path, line)} uses a relative import")
            elif name.startswith("pixseek.") and not _may_import(part, name.split(".")[1]):
                wrong.append(f"{_where(path, line)}: {part} imports {name}")
    assert wrong == []


@pytest.mark.parametrize(
    ("library", "owners"),
    [("lancedb", {"catalog"}), ("fastapi", {"web"}), ("uvicorn", {"cli", "web"}), ("typer", {"cli"})],
)
def test_a_library_is_imported_only_where_it_belongs(library: str, owners: set[str]) -> None:
    found = [
        _where(path, line)
        for part, path in _modules()
        if part not in owners
        for name, line in _imports(path)
        if name == library or name.startswith(f"{library}.")
    ]
    assert found == []


def _called(node: ast.Call) -> str:
    f = node.func
    if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name):
        return f"{f.value.id}.{f.attr}"
    return f.id if isinstance(f, ast.Name) else ""


_EXITS = ("print", "exit", "quit", "sys.exit", "os._exit", "SystemExit")


def _prints_or_exits(node: ast.AST) -> str | None:
    """What `node` does that only cli and web may: a print or exit call, or `raise SystemExit`."""
    if isinstance(node, ast.Call) and _called(node) in _EXITS:
        return f"{_called(node)}()"
    if isinstance(node, ast.Raise) and node.exc is not None:
        raised = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
        if isinstance(raised, ast.Name) and raised.id == "SystemExit":
            return "raise SystemExit"
    return None


def test_only_cli_and_web_print_or_exit() -> None:
    found = [
        f"{_where(path, node.lineno)}: {what}"
        for part, path in _modules()
        if part not in ("cli", "web")
        for node in ast.walk(ast.parse(path.read_text()))
        if (what := _prints_or_exits(node)) is not None
    ]
    assert found == []
