"""`pixseek adapt`: train (or drop) the catalog's query adapter on its folder labels."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from pixseek.cli.app import DbOption, JsonOption, app, console, handle_errors, make_settings, print_json
from pixseek.errors import StorageError

if TYPE_CHECKING:
    from pixseek.services import Index


@app.command("adapt")
def adapt_command(
    remove: Annotated[bool, typer.Option("--remove", help="Drop the stored adapter")] = False,
    method: Annotated[
        str,
        typer.Option(
            "--method",
            help="class-posterior (default: images a logistic regression puts in the query's classes rank "
            "higher), class-direction (queries move along its class weights) or query-residual (a residual "
            "linear map of queries)",
        ),
    ] = "class-posterior",
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Adapt search to this collection's folder labels: a map over query vectors, trained on the index's
    labelled images (the first folder level) with the model frozen. Nothing is re-embedded; searches use
    it until --remove (or per search, --no-adapter)."""
    from pixseek.services import Index

    with handle_errors(json_out=json_out):
        settings = make_settings(db=db)
        index = Index(settings.db, settings=settings)
        had = remove and _stored(index)
        report = index.adapt(remove=remove, method=method)
    if json_out:
        print_json(report.to_dict() if report is not None else {"removed": had})
        return
    if report is None:
        said = "adapter removed" if had else "no adapter to remove"
        console.print(f"{settings.db}: {said}", highlight=False, markup=False)
        return
    console.print(
        f"{settings.db}: {report.method} adapter trained on {report.trained_on} images in {report.classes} "
        f"classes ({report.epochs} optimiser passes, {report.seconds:.1f} s); searches use it from now on",
        highlight=False,
        markup=False,
    )


def _stored(index: Index) -> bool:
    """Whether the index holds an adapter; one it cannot read (a damaged table) is there, for --remove."""
    try:
        return index.adapter() is not None
    except StorageError:
        return True
