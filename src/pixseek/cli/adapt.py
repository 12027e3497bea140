"""`pixseek adapt`: train (or drop) the catalog's query adapter on its folder labels."""

from __future__ import annotations

from typing import Annotated

import typer

from pixseek.cli.app import (
    DbOption,
    JsonOption,
    WaitOption,
    app,
    console,
    handle_errors,
    make_settings,
    print_json,
)


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
    wait: WaitOption = 0.0,
    json_out: JsonOption = False,
) -> None:
    """Adapt search to this collection's folder labels: a map over query vectors, trained on the index's
    labelled images (the first folder level) with the model frozen. Nothing is re-embedded; searches use
    it until --remove (or per search, --no-adapter)."""
    from pixseek.services import Index

    with handle_errors(json_out=json_out):
        settings = make_settings(db=db)
        index = Index(settings.db, settings=settings)
        if remove:
            had = index.remove_adapter(lock_timeout=wait)
        else:
            report = index.adapt(method=method, lock_timeout=wait)
    if remove:
        if json_out:
            print_json({"removed": had})
        else:
            said = "adapter removed" if had else "no adapter to remove"
            console.print(f"{settings.db}: {said}", highlight=False, markup=False)
        return
    if json_out:
        print_json(report.to_dict())
        return
    console.print(
        f"{settings.db}: {report.method} adapter trained on {report.trained_on} images in {report.classes} "
        f"classes ({report.epochs} optimiser passes, {report.seconds:.1f} s); searches use it from now on",
        highlight=False,
        markup=False,
    )
