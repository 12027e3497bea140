"""`pixseek model list|export|finetune` and `pixseek bench embed`."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from pixseek.cli.app import JsonOption, bench_app, console, err_console, handle_errors, model_app, print_json
from pixseek.cli.app import make_settings as _make_settings
from pixseek.errors import ModelError
from pixseek.settings import Settings
from pixseek.types import IMAGE_EXTENSIONS

EFFICIENTNETS = ("efficientnet-lite0", "efficientnet-lite2")
CALIBRATION_IMAGES = 64

CacheOption = Annotated[Path | None, typer.Option("--model-cache", help="Model cache folder", readable=False)]


@model_app.command("list")
def list_command(model_cache: CacheOption = None, json_out: JsonOption = False) -> None:
    """Known models, where each comes from, and whether it is ready in the cache."""
    from pixseek.models.registry import list_models

    with handle_errors(json_out=json_out):
        rows = list_models(_make_settings(model_cache=model_cache))
    if json_out:
        print_json([{**asdict(row), "path": str(row.path)} for row in rows])
        return
    table = Table("model", "cached", "source", "description", box=None, show_lines=False)
    for row in rows:
        cached = Text("yes", style="green") if row.cached else Text("no", style="dim")
        table.add_row(Text(row.name, style="bold"), cached, Text(row.source), Text(row.description))
    console.print(table)


@model_app.command("export")
def export_command(  # noqa: PLR0917 - Typer maps parameters to options
    source: Annotated[
        str, typer.Argument(help="efficientnet-lite0, efficientnet-lite2, or a transformers CLIP checkpoint")
    ],
    out: Annotated[
        Path | None, typer.Option("--out", help="Model folder [default: the model cache]", readable=False)
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="Model name [default: from SOURCE]")] = None,
    int8: Annotated[bool, typer.Option("--int8/--no-int8", help="Also write an int8 image tower")] = True,
    calibration: Annotated[
        Path | None,
        typer.Option("--calibration", help="Folder of real images to calibrate int8 (CNNs)", readable=False),
    ] = None,
    model_cache: CacheOption = None,
) -> None:
    """Export a model into the pixseek format (needs the [torch] or [offline] extra)."""
    with handle_errors():
        settings = _make_settings(model_cache=model_cache)
        model_name = name or _default_name(source)
        if source in EFFICIENTNETS:
            _check_efficientnet_options(source, int8=int8, calibration=calibration, name=model_name)
        target = out or _cache_dir(settings) / model_name
        with _staging(target) as tmp:
            if source in EFFICIENTNETS:
                _export_efficientnet(source, tmp, int8=int8, calibration=calibration, name=model_name)
            else:
                with _needs_extra("torch"):
                    from pixseek.models.export.clip import export_clip
                export_clip(source, tmp, name=model_name, int8=int8)
    err_console.print(f"exported {model_name} to {target}", highlight=False, markup=False)
    console.print(str(target), highlight=False, markup=False)


@bench_app.command("embed")
def bench_embed_command(  # noqa: PLR0917 - Typer maps parameters to options
    model: Annotated[str, typer.Option("--model", help="Model name or folder")] = "clip-vit-b32",
    random_weights: Annotated[
        bool, typer.Option("--random-weights", help="A random ViT-B/32: the real cost without the weights")
    ] = False,
    threads: Annotated[int | None, typer.Option(min=1, help="ONNX Runtime threads [default: all]")] = None,
    repeats: Annotated[int, typer.Option(min=3, help="Timed runs per figure (median)")] = 20,
    model_cache: CacheOption = None,
    json_out: JsonOption = False,
) -> None:
    """Image tower latency/throughput (fp32, int8) and text latency of one model."""
    from pixseek.models.bench import bench_embed

    with handle_errors(json_out=json_out):
        settings = _make_settings(model_cache=model_cache, threads=threads)
        folder = _random_vit_b32(settings, model) if random_weights else _resolve(model, settings)
        result = bench_embed(folder, threads=threads, repeats=repeats)
    if json_out:
        print_json(result)
        return
    for precision in ("fp32", "int8"):
        figures = result[precision]
        if figures is not None:
            console.print(
                f"{result['model']} image {precision}: {figures['batch1_ms']:.1f} ms at batch 1, "
                f"{figures['batch32_img_per_s']:.1f} img/s at batch 32",
                highlight=False,
            )
    if result["text_batch1_ms"] is not None:
        console.print(f"{result['model']} text: {result['text_batch1_ms']:.1f} ms per query", highlight=False)
    console.print(f"threads: {result['threads']}, onnxruntime {result['onnxruntime']}", highlight=False)


def _check_efficientnet_options(variant: str, *, int8: bool, calibration: Path | None, name: str) -> None:
    """Refuse bad option combinations before any work (and before importing torch)."""
    if name != variant:
        raise ModelError(f"{variant} keeps its own name; drop --name {name}")
    if int8 and calibration is None:
        raise ModelError(
            f"{variant}: int8 for a CNN is calibrated on real images; pass --calibration DIR "
            "(a folder of typical photos) or --no-int8"
        )


@model_app.command("finetune")
def finetune_command(  # noqa: PLR0917 - Typer maps parameters to options
    source: Annotated[
        str, typer.Argument(help="A transformers CLIP checkpoint, or a model folder fine-tuned before")
    ],
    folder: Annotated[
        Path, typer.Argument(help="Images, captioned by .txt files beside them or by folder", readable=False)
    ],
    name: Annotated[str, typer.Option("--name", help="The new model's name")],
    epochs: Annotated[int, typer.Option(min=1, help="Passes over the images")] = 1,
    batch_size: Annotated[int, typer.Option(min=2, help="Pairs per contrastive batch")] = 32,
    lr: Annotated[float, typer.Option(min=0.0, help="AdamW learning rate")] = 1e-5,
    out: Annotated[
        Path | None, typer.Option("--out", help="Model folder [default: the model cache]", readable=False)
    ] = None,
    model_cache: CacheOption = None,
    json_out: JsonOption = False,
) -> None:
    """Fine-tune a CLIP model's two towers on a collection's own images (needs the [torch] extra; a GPU
    when one is there) and export it as a new model, with its own fingerprint, for `index --model NAME`."""
    with handle_errors(json_out=json_out):
        settings = _make_settings(model_cache=model_cache)
        target = out or _cache_dir(settings) / name
        with _needs_extra("torch"):
            from pixseek.models.export.finetune import finetune_clip
        with _staging(target) as tmp:
            report = finetune_clip(
                source, folder, tmp, name=name, epochs=epochs, batch_size=batch_size, learning_rate=lr
            )
    if json_out:
        print_json(report.to_dict() | {"path": str(target)})
        return
    err_console.print(
        f"fine-tuned {name} on {report.pairs} images ({report.captioned} with captions) in "
        f"{report.seconds:.1f} s on {report.device}, loss {report.first_loss} -> {report.last_loss}",
        highlight=False,
        markup=False,
    )
    console.print(str(target), highlight=False, markup=False)


@contextmanager
def _needs_extra(extra: str) -> Iterator[None]:
    """Turn a missing optional dependency into a ModelError that says what to install."""
    try:
        yield
    except ImportError as exc:
        raise ModelError(f'this needs the [{extra}] extra: pip install "pixseek[{extra}]" ({exc})') from exc


def _export_efficientnet(
    variant: str, folder: Path, *, int8: bool, calibration: Path | None, name: str
) -> None:
    with _needs_extra("offline"):
        from pixseek.models.export.efficientnet import export_efficientnet

    export_efficientnet(variant, folder)  # type: ignore[arg-type]
    if int8 and calibration is not None:
        from pixseek.models.export.quantize import calibration_batches, quantize_image_tower
        from pixseek.models.spec import ModelSpec

        images = _sample_images(calibration)
        batches = calibration_batches(images, ModelSpec.load(folder).image)
        quantize_image_tower(folder, mode="static", calibration=batches)


def _sample_images(folder: Path) -> list[Path]:
    """Up to CALIBRATION_IMAGES images spread evenly over the folder's sorted file list."""
    if not folder.is_dir():
        raise ModelError(f"{folder}: calibration folder not found")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
    if not files:
        raise ModelError(f"{folder}: no images to calibrate with ({', '.join(sorted(IMAGE_EXTENSIONS))})")
    step = max(1, len(files) // CALIBRATION_IMAGES)
    return files[::step][:CALIBRATION_IMAGES]


def _default_name(source: str) -> str:
    """efficientnet-lite0 stays itself; a checkpoint 'org/Name' or '/path/Name' becomes 'name'."""
    return source if source in EFFICIENTNETS else Path(source.rstrip("/")).name.lower()


def _cache_dir(settings: Settings) -> Path:
    from pixseek.models.registry import model_cache_dir

    return model_cache_dir(settings)


def _resolve(model: str, settings: Settings) -> Path:
    from pixseek.models.registry import resolve_model

    return resolve_model(model, settings=settings)


def _random_vit_b32(settings: Settings, model: str) -> Path:
    """The random-weight ViT-B/32 in the model cache, exported on first use (about a minute)."""
    from pixseek.models.spec import MANIFEST_NAME

    if model != "clip-vit-b32":
        raise ModelError(f"--random-weights stands in for clip-vit-b32 only, not {model!r}")
    with _needs_extra("torch"):
        from pixseek.models.export.clip import RANDOM_VIT_B32, export_random_vit_b32
    folder = _cache_dir(settings) / RANDOM_VIT_B32
    if not (folder / MANIFEST_NAME).is_file():
        err_console.print(f"exporting a random-weight ViT-B/32 to {folder} (once)")
        with _staging(folder) as tmp:
            export_random_vit_b32(tmp)
    return folder


@contextmanager
def _staging(target: Path) -> Iterator[Path]:
    """Export into a hidden sibling folder and swap it in only when complete, so failures lose nothing.

    An existing target is replaced only when it is a model folder (has a manifest) or empty.
    """
    from pixseek.models.spec import MANIFEST_NAME

    if target.exists() and any(target.iterdir()) and not (target / MANIFEST_NAME).is_file():
        raise ModelError(f"{target}: exists and is not a pixseek model folder; choose another --out")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        yield tmp
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
