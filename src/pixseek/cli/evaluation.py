"""`pixseek eval`, `pixseek classify` and `pixseek bench run`: the paper's study and runtime table."""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pixseek.cli.app import (
    JsonOption,
    ModelOption,
    WaitOption,
    app,
    bench_app,
    console,
    err_console,
    handle_errors,
    make_settings,
    print_json,
    shown_path,
)
from pixseek.errors import EvaluationError, ModelNotFoundError, QueryError

if TYPE_CHECKING:
    from pixseek.evaluation.splits import LabelledSet
    from pixseek.search.adapter import QueryAdapter
    from pixseek.services import Index


def _say(message: str) -> None:
    err_console.print(message, style="dim", highlight=False, markup=False)


def _skipped_by_extension(folder: Path) -> dict[str, int]:
    """Files the indexer never reads because their extension is not an image's (e.g. .svg, .txt)."""
    from pixseek.indexing.scan import IMAGE_EXTENSIONS

    counts: Counter[str] = Counter()
    for path in folder.rglob("*"):
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(folder).parts):
            suffix = path.suffix.lower() or "(none)"
            if suffix not in IMAGE_EXTENSIONS:
                counts[suffix] += 1
    return dict(counts.most_common())


def _index_folder(index: Index, folder: Path, wait: float) -> dict[str, Any]:
    """Add `folder` to the index; what was read, failed and never opened, for the report."""
    _say(f"indexing {folder} into {index.db}")
    indexed = index.add(folder, lock_timeout=wait)
    for failure in indexed.failed:
        err_console.print(
            f"skipped: {shown_path(failure['path'])}: {failure['error']}", markup=False, highlight=False
        )
    return {"indexing": indexed.to_dict(), "skipped_files": _skipped_by_extension(folder)}


def _default_db(folder: Path | None, out: Path) -> Path:
    """./pixseek.db when it already holds FOLDER (the quick start's index: reuse its model and vectors),
    else a new index inside the report folder, so eval never adds a folder to the user's main index."""
    from pixseek.catalog import Catalog

    main = make_settings().db
    holds = folder is not None and folder.is_dir() and Catalog.exists(main)
    if holds and Catalog.open(main).holds_root(str(folder.resolve())):
        return main
    return out / "index.db"


@app.command("eval")
def eval_command(  # noqa: PLR0917 - Typer maps parameters to options
    folder: Annotated[
        Path | None, typer.Argument(help="Labelled folder: root/<class>/image", readable=False)
    ] = None,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="Index (folder or s3:// URI) to reuse or add FOLDER to "
            "[default: ./pixseek.db if it holds FOLDER, else OUT/index.db]",
        ),
    ] = None,
    model: ModelOption = None,
    out: Annotated[Path, typer.Option("--out", help="Report folder", readable=False)] = Path(
        "pixseek-report"
    ),
    seed: Annotated[
        int, typer.Option(min=0, max=2**32 - 1, help="Seed for the split, folds and classifiers")
    ] = 42,
    folds: Annotated[int | None, typer.Option(min=2, help="Also run stratified K-fold")] = None,
    gamma: Annotated[str, typer.Option(help="SVM gamma: scale, auto or a number")] = "scale",
    feedback: Annotated[
        bool,
        typer.Option("--feedback/--no-feedback", help="Also measure relevance feedback"),
    ] = True,
    adapt: Annotated[
        bool,
        typer.Option("--adapt/--no-adapt", help="Also measure the query adapter on seen and unseen classes"),
    ] = False,
    adapter: Annotated[
        bool,
        typer.Option(
            "--adapter/--no-adapter",
            help="Also score retrieval through the index's active adapter, when it has one",
        ),
    ] = True,
    wait: WaitOption = 0.0,
    json_out: JsonOption = False,
) -> None:
    """Classification study and retrieval metrics on a labelled folder or an existing index.

    FOLDER is indexed incrementally into --db, with that index's own model; without --db, ./pixseek.db is
    used when it already holds FOLDER, else a new OUT/index.db. --db alone reuses its stored embeddings.
    """
    from pixseek.catalog import Catalog
    from pixseek.evaluation.adaptation import adaptable_classes
    from pixseek.evaluation.classifiers import parse_gamma
    from pixseek.evaluation.persistence import save_classifier
    from pixseek.evaluation.plots import write_plots
    from pixseek.evaluation.report import write_report
    from pixseek.evaluation.report_folder import check_report_folder, staged_report
    from pixseek.evaluation.splits import MIN_PER_CLASS, labelled_set
    from pixseek.evaluation.study import StudyOptions, run_study
    from pixseek.locations import as_location
    from pixseek.services import Index

    with handle_errors(json_out=json_out):
        try:
            gamma_value = parse_gamma(gamma)
        except ValueError as exc:
            raise EvaluationError(f"--gamma: {exc}") from None
        if folder is None and db is None:
            raise EvaluationError("give a labelled FOLDER to index, or --db with an existing index")
        if folder is None and db is not None and not Catalog.exists(as_location(db)):
            raise EvaluationError(f"no index at {db}; give a FOLDER to index into it")
        check_report_folder(out)  # before the study, not after it
        db_path = as_location(db) if db is not None else _default_db(folder, out)
        settings = make_settings(db=db_path, model=model)
        with Index(db_path, model=model, settings=settings) as index:
            try:
                indexed = _index_folder(index, folder, wait) if folder is not None else {}
                extra = {"db": str(db_path)} | indexed
                embedder = index.embedder
            except ModelNotFoundError as exc:
                raise ModelNotFoundError(
                    f"{exc}; or evaluate embeddings already made: --db INDEX (an index that holds {folder}), "
                    "or choose a model with --model (e.g. --model efficientnet-lite0, fully offline)"
                ) from None
            arrays = index.arrays(root=folder)  # only FOLDER's images, even in a shared --db
            active = index.adapter() if adapter else None
        data = labelled_set(
            arrays.vectors, arrays.labels, arrays.paths, min_per_class=max(MIN_PER_CLASS, folds or 0)
        )
        if adapt:
            adaptable_classes([str(y) for y in data.labels])  # refused now, not after the study
        options = StudyOptions(seed=seed, folds=folds, gamma=gamma_value)
        result = run_study(data, options=options, embedder=embedder, model=embedder.name, progress=_say)
        report = result.report | extra | {"model_fingerprint": embedder.fingerprint}
        report |= _extra_blocks(data, feedback=feedback, adapt=adapt, active=active, seed=seed)
        with staged_report(out) as staging:  # all files whole, or the last report kept
            save_classifier(
                staging, result.svm, model=embedder.name, fingerprint=embedder.fingerprint, dim=embedder.dim
            )
            plots = write_plots(staging, report)
            written = write_report(staging, report, plots=plots)
        json_path, md_path = (out / p.name for p in written)
    if json_out:
        print_json(report)
        return
    svm = report["classifiers"]["svm"]
    console.print(
        f"SVM accuracy {svm['accuracy']:.2%}, macro F1 {svm['macro_f1']:.4f} on {report['split']['n_test']} "
        f"test images ({report['n_classes']} classes); mAP@10 {report['retrieval']['map_at_10']:.4f}",
        highlight=False,
    )
    console.print(f"wrote {md_path}, {json_path} and {len(plots)} plots", highlight=False, markup=False)


def _extra_blocks(
    data: LabelledSet, *, feedback: bool, adapt: bool, active: QueryAdapter | None, seed: int
) -> dict[str, Any]:
    """report.json's optional blocks: relevance feedback, the active adapter, the held-out adapter study."""
    labels = [str(y) for y in data.labels]
    blocks: dict[str, Any] = {}
    if feedback:
        from pixseek.evaluation.feedback import compare

        blocks["feedback"] = compare(data.vectors, labels, progress=_say)
    if active is not None:
        from pixseek.evaluation.adaptation import with_active_adapter

        _say("leave-one-out retrieval through the active adapter")
        blocks["active_adapter"] = with_active_adapter(data.vectors, labels, active)
    if adapt:
        from pixseek.evaluation.adaptation import compare as compare_adaptation

        _say("query adapter: seen and unseen classes")
        blocks["adaptation"] = compare_adaptation(data.vectors, labels, seed=seed)
    return blocks


@app.command("classify")
def classify_command(
    image: Annotated[Path, typer.Argument(help="Image to classify", readable=False)],
    report: Annotated[
        Path, typer.Option("--report", help="Report folder written by `pixseek eval`", readable=False)
    ],
    model: ModelOption = None,
    top: Annotated[int, typer.Option(min=1, help="How many labels to list")] = 3,
    json_out: JsonOption = False,
) -> None:
    """Label an image with the SVM that `pixseek eval` trained, and its calibrated probability."""
    from pixseek.evaluation.persistence import load_classifier, read_meta
    from pixseek.models.registry import load_embedder

    with handle_errors(json_out=json_out):
        if not image.is_file():
            raise QueryError(f"{image}: no such file")
        meta = read_meta(report)
        settings = make_settings(model=model)
        embedder = load_embedder(model or meta.model, settings=settings)
        classifier, _ = load_classifier(report, fingerprint=embedder.fingerprint)
        probabilities = classifier.predict_proba(embedder.embed_images([image]))[0]
        order = probabilities.argsort()[::-1][:top]
        ranked = [
            {"label": str(classifier.classes_[i]), "probability": float(probabilities[i])} for i in order
        ]
    if json_out:
        print_json({"image": str(image), **ranked[0], "top": ranked})
        return
    for row in ranked:
        typer.echo(f"{row['label']}\t{row['probability']:.4f}")


@bench_app.command("run")
def bench_run_command(  # noqa: PLR0917 - Typer maps parameters to options
    folder: Annotated[Path, typer.Argument(help="Folder of images to index and query", readable=False)],
    model: ModelOption = None,
    db: Annotated[
        Path | None,
        typer.Option("--db", help="New index folder to keep [default: temporary]", readable=False),
    ] = None,
    queries: Annotated[int, typer.Option(min=1, help="Query images to time")] = 20,
    out: Annotated[
        Path | None, typer.Option("--out", help="Also write bench.json and bench.md here", readable=False)
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """The paper's Table V for FOLDER: indexing time and throughput, query, search and end-to-end ms, size."""
    import json

    from pixseek.evaluation.profile import render_profile_markdown, run_profile
    from pixseek.evaluation.report_folder import check_report_folder, staged_report
    from pixseek.services import Index

    with handle_errors(json_out=json_out):
        if not folder.is_dir():
            raise EvaluationError(f"{folder}: no such folder")
        if db is not None and db.exists():
            raise EvaluationError(f"{db} exists; bench run times indexing from scratch, so give a new --db")
        if out is not None:
            check_report_folder(out)  # before minutes of indexing, as eval does
        with tempfile.TemporaryDirectory(prefix="pixseek-bench-") as tmp:
            db_path = db or Path(tmp) / "bench.db"
            settings = make_settings(db=db_path, model=model)
            _say(f"indexing {folder} into {db_path}")
            with Index(db_path, model=model, settings=settings) as index:
                result = run_profile(index, folder, queries=queries)
        markdown = render_profile_markdown(result)
        if out is not None:
            with staged_report(out) as staging:  # whole files or none, as eval's report
                (staging / "bench.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
                (staging / "bench.md").write_text(markdown, encoding="utf-8")
    if json_out:
        print_json(result)
        return
    typer.echo(markdown)
