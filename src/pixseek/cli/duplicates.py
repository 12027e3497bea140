"""`pixseek duplicates`: groups of near-duplicate images in an index."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from pixseek.cli.app import (
    DbOption,
    JsonOption,
    app,
    console,
    err_console,
    handle_errors,
    make_settings,
    print_json,
    shown_path,
)
from pixseek.errors import QueryError
from pixseek.locations import join_root
from pixseek.search.duplicates import DEFAULT_NEIGHBOURS, DEFAULT_THRESHOLD

if TYPE_CHECKING:
    from pixseek.services import Index

_STAGES = {"neighbours": "nearest neighbours", "pixels": "pixel check"}
UNREADABLE_LISTED = 5  # images named on stderr; the count covers the rest


@app.command("duplicates")
def duplicates_command(
    threshold: Annotated[
        float,
        typer.Option(
            help="How alike two pictures' pixels must be, as a correlation from -1 to 1 (higher: stricter)"
        ),
    ] = DEFAULT_THRESHOLD,
    neighbours: Annotated[
        int, typer.Option(help="Nearest neighbours each image proposes for the pixel check (1-100)")
    ] = DEFAULT_NEIGHBOURS,
    adapter: Annotated[
        bool,
        typer.Option(
            "--adapter/--no-adapter", help="Propose neighbours through the index's adapter, when it has one"
        ),
    ] = True,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Find groups of near-duplicates: the same picture resized, re-encoded, lightly cropped, brightened
    or converted, and exact copies. The model proposes look-alikes; their pixels decide."""
    from pixseek.services import Index

    with handle_errors(json_out=json_out):
        settings = make_settings(db=db)
        index = Index(settings.db, settings=settings)
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err_console,
            transient=True,
            disable=not err_console.is_terminal,
        ) as bar:
            tasks: dict[str, int] = {}

            def progress(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    tasks[stage] = bar.add_task(_STAGES.get(stage, stage), total=total)
                bar.update(tasks[stage], completed=done, total=total)

            report = index.duplicates(
                threshold=threshold, neighbours=neighbours, use_adapter=adapter, progress=progress
            )
    if json_out:
        print_json(report.to_dict())
        return
    if report.unreadable:
        for line in _unreadable_lines(index, report.unreadable):
            err_console.print(line, markup=False, highlight=False)
    if report.changed:
        for line in _changed_lines(index, report.changed):
            err_console.print(line, markup=False, highlight=False)
    if not report.groups:
        err_console.print(f"no near-duplicates at threshold {threshold}", markup=False)
        return
    for number, group in enumerate(report.groups, 1):
        console.print(
            f"group {number}: {len(group.hits)} images, min score {group.min_score:.3f}", markup=False
        )
        for hit in group.hits:
            typer.echo(f"  {shown_path(hit.full_path)}")


def _unreadable_lines(index: Index, ids: list[str]) -> list[str]:
    """The first UNREADABLE_LISTED unreadable images by path (`--json` lists every id), then the count."""
    what = "could not be read for the pixel check; {its} pairs are left out"
    return _listed(index, ids, "unreadable", what)


def _changed_lines(index: Index, ids: list[str]) -> list[str]:
    what = "{is} gone or changed since indexed, so {it} {joins} no exact-copy group (run pixseek index)"
    return _listed(index, ids, "changed", what)


def _listed(index: Index, ids: list[str], label: str, what: str) -> list[str]:
    lines = []
    for row_id in ids[:UNREADABLE_LISTED]:
        try:
            record = index.get(row_id)
        except QueryError:  # removed since the run began
            continue
        lines.append(f"{label}: {shown_path(join_root(record.root, record.path))}")
    more = len(ids) - UNREADABLE_LISTED
    tail = f" ({more} more not listed; --json lists them all)" if more > 0 else ""
    one = len(ids) == 1
    words = {"its": "its" if one else "their", "is": "is" if one else "are", "it": "it" if one else "they"}
    words["joins"] = "joins" if one else "join"
    return [*lines, f"{len(ids)} image{'' if one else 's'} {what.format(**words)}{tail}"]
