"""`pixseek model finetune` on the tiny CLIP fixture, on CPU: captions from .txt files or folder labels,
a new model folder with its own fingerprint that pixseek loads, and one that can be tuned again."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from typer.testing import CliRunner

from pixseek.cli import app
from pixseek.errors import ModelError
from pixseek.models.embedder import OnnxEmbedder
from pixseek.models.export.finetune import caption_pairs, finetune_clip
from tests.indexing.images import make_tree
from tests.models.conftest import TINY_CLIP

pytestmark = pytest.mark.torch


@pytest.fixture
def collection(tmp_path: Path) -> Path:
    folder = tmp_path / "stamps"
    make_tree(folder, [f"{label}/{i}.png" for label in ("animals", "food_items") for i in range(3)])
    (folder / "animals/0.txt").write_text(
        "A small brown dog.\nfr.utf8=Un petit chien brun.\n", encoding="utf-8"
    )
    return folder


def test_captions_come_from_txt_files_or_the_folder_label(collection: Path) -> None:
    pairs = {
        p.relative_to(collection).as_posix(): (caption, from_file)
        for p, caption, from_file in caption_pairs(collection)
    }
    assert pairs["animals/0.png"] == ("A small brown dog.", True)
    assert pairs["animals/1.png"] == ("a picture of animals", False)
    assert pairs["food_items/2.png"] == ("a picture of food items", False)


def test_fewer_than_two_images_is_a_clear_error(tmp_path: Path) -> None:
    make_tree(tmp_path / "one", ["a/1.png"])
    with pytest.raises(ModelError, match="at least two images"):
        caption_pairs(tmp_path / "one")


def test_finetune_exports_a_new_model_folder_with_its_own_fingerprint(
    collection: Path, tmp_path: Path
) -> None:
    out = tmp_path / "tuned"
    report = finetune_clip(
        TINY_CLIP, collection, out, name="tiny-tuned", epochs=2, batch_size=4, learning_rate=1e-3
    )
    assert (report.pairs, report.captioned, report.epochs, report.steps) == (6, 1, 2, 4)
    assert report.device == "cpu" and report.images_per_second > 0
    before, after = OnnxEmbedder.from_folder(TINY_CLIP, threads=1), OnnxEmbedder.from_folder(out, threads=1)
    assert after.name == "tiny-tuned" and after.fingerprint != before.fingerprint and after.dim == before.dim
    image = next(collection.rglob("*.png"))
    moved = 1 - float(before.embed_images([image])[0] @ after.embed_images([image])[0])
    assert moved > 1e-4  # the weights changed
    assert np.isfinite(after.embed_texts(["a picture of animals"])).all()
    again = finetune_clip(out, collection, tmp_path / "again", name="tiny-again", epochs=1, batch_size=6)
    assert again.steps == 1 and (tmp_path / "again/hf/config.json").is_file()


def test_the_cli_writes_into_the_model_cache(collection: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    source = tmp_path / "src"
    shutil.copytree(TINY_CLIP, source)
    result = CliRunner().invoke(
        app,
        ["model", "finetune", str(source), str(collection), "--name", "tiny-tuned", "--epochs", "1",
         "--batch-size", "6", "--model-cache", str(cache), "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["pairs"] == 6 and report["steps"] == 1
    assert (cache / "tiny-tuned/pixseek-model.json").is_file()
