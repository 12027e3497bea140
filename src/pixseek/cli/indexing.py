"""`pixseek index`, `pixseek search` and `pixseek info`: the catalog from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from pixseek.cli.app import (
    EXIT_FILES_FAILED,
    DbOption,
    JsonOption,
    ModelOption,
    WaitOption,
    app,
    console,
    err_console,
    handle_errors,
    make_settings,
    print_json,
    shown_path,
)
from pixseek.errors import QueryError
from pixseek.locations import NOT_A_REGULAR_FILE

TermsOption = list[str] | None


def _rate(task: Task) -> float:
    """Images per second since the bar started (rich's windowed speed jumps on batch-sized steps)."""
    return task.completed / task.elapsed if task.elapsed else 0.0


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        return Text(f"{_rate(task):.1f} img/s", style="progress.data.speed")


class _EtaColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        rate = _rate(task)
        if not rate or task.total is None:
            return Text("ETA -:--:--", style="progress.remaining")
        seconds = int((task.total - task.completed) / rate)
        return Text(
            f"ETA {seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}", style="progress.remaining"
        )


@app.command("index")
def index_command(  # noqa: PLR0917 - Typer maps parameters to options
    folder: Annotated[
        str,
        typer.Argument(help="Folder of images to index (recursively), or an object-store prefix: s3://B/P"),
    ],
    db: DbOption = None,
    model: ModelOption = None,
    batch_size: Annotated[int | None, typer.Option(min=1, max=4096, help="Images per model call")] = None,
    workers: Annotated[int | None, typer.Option(min=0, help="Decode processes (0 = in-process)")] = None,
    hidden: Annotated[bool, typer.Option("--hidden", help="Also index hidden folders and files")] = False,
    wait: WaitOption = 0.0,
    ray: Annotated[int, typer.Option(min=0, help="Embed on Ray Data with N model replicas")] = 0,
    strict: Annotated[bool, typer.Option("--strict", help="Exit 3 if any file failed to index")] = False,
    rebuild_ann: Annotated[
        bool, typer.Option("--rebuild-ann", help="Delete the saved ANN index and build it afresh")
    ] = False,
    storage_option: Annotated[
        list[str] | None,
        typer.Option(
            "--storage-option",
            help="KEY=VALUE for the object store (endpoint, access_key, secret_key, region, ...); repeat",
        ),
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Add a folder to the index, incrementally: only new or changed files are embedded.

    Files that cannot be read are listed on stderr (with --json, in its "failed" instead) and
    skipped; the run still exits 0 unless --strict. Exit codes: 0 done; 1 error; 2 bad command line;
    3 --strict and some files failed; 130 interrupted.
    """
    from pixseek.services import Index, RunProgress

    with handle_errors(json_out=json_out):
        settings = make_settings(db=db, model=model, batch_size=batch_size, workers=workers)
        index = Index(settings.db, model=model, settings=settings)
        columns = (
            TextColumn("listed {task.fields[listed]:,} · embedding"),
            BarColumn(),
            MofNCompleteColumn(),
            _RateColumn(),
            TextColumn("committed {task.fields[committed]:,}"),
            _EtaColumn(),
            TimeElapsedColumn(),
        )
        with Progress(
            *columns, console=err_console, transient=True, disable=not err_console.is_terminal
        ) as bar:
            task = bar.add_task("embedding", total=None, listed=0, committed=0)

            def progress(counts: RunProgress) -> None:
                bar.update(
                    task,
                    completed=counts.embedded,
                    total=counts.to_embed,
                    listed=counts.listed,
                    committed=counts.committed,
                )

            report = index.add(
                folder,
                on_progress=progress,
                include_hidden=hidden or None,
                lock_timeout=wait,
                ray_actors=ray,
                rebuild_ann=rebuild_ann,
                storage_options=_key_values(storage_option),
            )
    if report.images_seen == 0:
        from pixseek.indexing.scan import IMAGE_EXTENSIONS

        kinds = ", ".join(sorted(IMAGE_EXTENSIONS))
        err_console.print(
            f"warning: no supported images in {folder} (looked for {kinds}, hidden files skipped unless "
            "--hidden)",
            highlight=False,
            markup=False,
        )
    if json_out:
        print_json(report.to_dict())
    else:
        console.print(report.summary(), highlight=False, markup=False)
        for failure in report.failed:
            err_console.print(
                f"failed: {shown_path(failure['path'])}: {failure['error']}", highlight=False, markup=False
            )
    if strict and report.failed:
        raise typer.Exit(EXIT_FILES_FAILED)


def _key_values(pairs: list[str] | None) -> dict[str, str]:
    """['endpoint=http://...', ...] -> {'endpoint': 'http://...'}; a pair without '=' is a QueryError."""
    out: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise QueryError(f"--storage-option takes KEY=VALUE, got {pair!r}")
        out[key.strip()] = value
    return out


def _weighted(term: str) -> tuple[str, float]:
    """'beach^2' -> ('beach', 2.0); a '^' suffix that is not a number is part of the term."""
    value, sep, weight = term.rpartition("^")
    if sep and value:
        try:
            return value, float(weight)
        except ValueError:
            pass
    return term, 1.0


def _terms(values: TermsOption) -> list[tuple[str, float]] | None:
    return [_weighted(v) for v in values] if values else None


@app.command("search")
def search_command(  # noqa: PLR0917 - Typer maps parameters to options
    images: Annotated[list[Path] | None, typer.Argument(help="Query images", readable=False)] = None,
    text: Annotated[TermsOption, typer.Option("--text", help="Text query; repeat for more")] = None,
    like: Annotated[TermsOption, typer.Option("--like", help="An indexed id or path: more like this")] = None,
    minus_text: Annotated[TermsOption, typer.Option("--minus-text", help="Text to avoid")] = None,
    minus_image: Annotated[TermsOption, typer.Option("--minus-image", help="Image to avoid")] = None,
    minus_like: Annotated[TermsOption, typer.Option("--minus-like", help="Indexed image to avoid")] = None,
    k: Annotated[int, typer.Option("-k", "--k", help="How many results")] = 5,
    label: Annotated[str | None, typer.Option(help="Only this label (first folder level)")] = None,
    folder: Annotated[str | None, typer.Option(help="Only under this relative folder")] = None,
    glob: Annotated[
        str | None, typer.Option("--glob", "--path-glob", help="Only relative paths matching this glob")
    ] = None,
    ann: Annotated[bool | None, typer.Option("--ann/--exact", help="Force FAISS ANN or exact search")] = None,
    more: Annotated[
        list[str] | None, typer.Option("--more", help="A result you marked relevant (id or path); repeat")
    ] = None,
    less: Annotated[
        list[str] | None, typer.Option("--less", help="A result you marked not relevant (id or path); repeat")
    ] = None,
    include_marked: Annotated[
        bool, typer.Option("--include-marked", help="Also list the marked images (relevant ones first)")
    ] = False,
    feedback: Annotated[
        str, typer.Option(help="Relevance feedback method: maxsim, rocchio or svm")
    ] = "maxsim",
    adapter: Annotated[
        bool, typer.Option("--adapter/--no-adapter", help="Use the index's adapter, when it has one")
    ] = True,
    db: DbOption = None,
    model: ModelOption = None,
    json_out: JsonOption = False,
) -> None:
    """Search by example images, text, or an indexed image; weights with TERM^WEIGHT, e.g. beach^2.

    Relevance feedback: rerun with --more ID for results you liked and --less ID for the others; with
    --more, the query itself may be left out.
    """
    from pixseek.services import Index, Query, SearchFilter

    with handle_errors(json_out=json_out):
        settings = make_settings(db=db, model=model)
        index = Index(settings.db, model=model, settings=settings)
        image_terms = _terms([str(p) for p in images] if images else None)
        for value, _ in [*(image_terms or []), *(_terms(minus_image) or [])]:
            if not value or not Path(value).is_file():
                raise QueryError(f"query image {value!r} {_not_a_file(Path(value)) if value else 'is empty'}")
        query = Query.of(
            image=image_terms,
            text=_terms(text),
            like=_terms(like),
            minus_image=_terms(minus_image),
            minus_text=_terms(minus_text),
            minus_like=_terms(minus_like),
            positive=more or (),
            negative=less or (),
            include_marked=include_marked,
            feedback=feedback,
            use_adapter=adapter,
        )
        hits = index.search(
            query, k=k, filters=SearchFilter(label=label, folder=folder, path_glob=glob), ann=ann
        )
    if json_out:
        print_json({"results": [h.to_dict() for h in hits]})
        return
    if not hits:
        err_console.print("no results: the index is empty or no image matches the filters", markup=False)
    for h in hits:
        typer.echo(f"{h.score:.4f}  {shown_path(h.full_path)}")


@app.command("info")
def info_command(db: DbOption = None, json_out: JsonOption = False) -> None:
    """What an index holds: image count, model, dimension, size on disk, last run."""
    from pixseek.services import Index

    with handle_errors(json_out=json_out):
        settings = make_settings(db=db)
        info = Index(settings.db, settings=settings).info()
    if json_out:
        print_json(info.to_dict())
        return
    console.print(
        f"{settings.db}: {info.images} images, model {info.model} ({info.dim}-d), "
        f"{info.bytes_on_disk / 1e6:.1f} MB on disk, last indexed {info.last_indexed or 'never'}",
        highlight=False,
        markup=False,
    )
    if info.adapter is not None and "error" in info.adapter:
        console.print(f"adapter: unreadable: {info.adapter['error']}", highlight=False, markup=False)
    elif info.adapter is not None:
        a = info.adapter
        smoothing = f", smoothed over {a['neighbours']} neighbours" if a.get("neighbours") else ""
        console.print(
            f"adapter: {a['method']}, trained on {a['trained_on']} images in {len(a['classes'])} classes, "
            f"{a['created']}{smoothing}",
            highlight=False,
            markup=False,
        )


def _not_a_file(path: Path) -> str:
    if path.is_dir():
        return "is a folder, not an image"
    return NOT_A_REGULAR_FILE if path.exists() else "does not exist"
