"""`pixseek forget`: remove an indexed folder's images, when re-indexing it is no longer possible."""

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


@app.command("forget")
def forget_command(
    root: Annotated[
        str, typer.Argument(help="An indexed folder (it need not exist any more) or s3://B/P prefix")
    ],
    db: DbOption = None,
    wait: WaitOption = 0.0,
    json_out: JsonOption = False,
) -> None:
    """Remove every image indexed from ROOT. `pixseek index ROOT` already drops the rows of files deleted
    under a folder; this is for a folder that is gone, moved, or no longer wanted. A ROOT the index does
    not hold is an error listing the roots it does."""
    from pixseek.locations import root_key
    from pixseek.services import Index

    with handle_errors(json_out=json_out):
        settings = make_settings(db=db)
        removed = Index(settings.db, settings=settings).forget(root, lock_timeout=wait)
    key = root_key(root)  # the root as the index named it (absolute), as search results show it
    if json_out:
        print_json({"root": key, "removed": removed})
        return
    console.print(f"{settings.db}: forgot {removed} images of {key}", highlight=False, markup=False)
