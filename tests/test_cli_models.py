"""`pixseek model list|export` and `pixseek bench embed` through the CLI runner."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pixseek.cli import app
from pixseek.models.spec import ModelSpec

REPO = Path(__file__).resolve().parents[1]
TINY_CLIP = REPO / "tests" / "fixtures" / "tiny-clip"
IMAGES = REPO / "tests" / "fixtures" / "images"
runner = CliRunner()


def test_model_list_json_names_every_known_model(tmp_path: Path) -> None:
    result = runner.invoke(app, ["model", "list", "--model-cache", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert {"clip-vit-b32", "efficientnet-lite0", "efficientnet-lite2"} <= rows.keys()
    assert not any(row["cached"] for row in rows.values())


def test_model_list_marks_cached_models(tmp_path: Path) -> None:
    shutil.copytree(TINY_CLIP, tmp_path / "efficientnet-lite0", ignore=shutil.ignore_patterns("hf"))
    result = runner.invoke(app, ["model", "list", "--model-cache", str(tmp_path)])
    assert result.exit_code == 0, result.output
    line = next(line for line in result.stdout.splitlines() if "efficientnet-lite0" in line)
    assert " yes " in line


def test_bench_embed_json_has_the_documented_keys() -> None:
    args = ["bench", "embed", "--model", str(TINY_CLIP), "--threads", "1", "--repeats", "3", "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {"fp32", "int8", "text_batch1_ms", "threads"} <= data.keys()
    for precision in ("fp32", "int8"):
        assert set(data[precision]) == {"batch1_ms", "batch32_img_per_s"}
        assert data[precision]["batch1_ms"] > 0 and data[precision]["batch32_img_per_s"] > 0
    assert data["text_batch1_ms"] > 0 and data["threads"] == 1 and data["model"] == "tiny-clip"


def test_bench_embed_human_output() -> None:
    result = runner.invoke(app, ["bench", "embed", "--model", str(TINY_CLIP), "--repeats", "3"])
    assert result.exit_code == 0, result.output
    assert "tiny-clip image fp32" in result.stdout and "text:" in result.stdout


def test_random_weights_stand_in_for_clip_only() -> None:
    result = runner.invoke(app, ["bench", "embed", "--model", "efficientnet-lite0", "--random-weights"])
    assert result.exit_code == 1
    assert "clip-vit-b32 only" in result.output


def test_unknown_model_is_a_clear_error() -> None:
    result = runner.invoke(app, ["bench", "embed", "--model", "no-such-model"])
    assert result.exit_code == 1 and "no-such-model" in result.output


def test_export_never_overwrites_a_folder_that_is_not_a_model(tmp_path: Path) -> None:
    keep = tmp_path / "photos"
    keep.mkdir()
    (keep / "cat.jpg").write_bytes(b"precious")
    result = runner.invoke(app, ["model", "export", "efficientnet-lite0", "--out", str(keep), "--no-int8"])
    assert result.exit_code == 1 and "not a pixseek model folder" in result.output
    assert (keep / "cat.jpg").read_bytes() == b"precious"


def test_cnn_int8_needs_calibration_images(tmp_path: Path) -> None:
    result = runner.invoke(app, ["model", "export", "efficientnet-lite0", "--out", str(tmp_path / "m")])
    assert result.exit_code == 1 and "--calibration" in result.output
    assert not (tmp_path / "m").exists()


@pytest.mark.torch
def test_export_clip_checkpoint_into_the_cache(tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    args = ["model", "export", str(TINY_CLIP / "hf"), "--name", "tiny", "--model-cache", str(tmp_path)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    spec = ModelSpec.load(tmp_path / "tiny")
    assert spec.name == "tiny" and spec.image.file_int8 == "image.int8.onnx"
    assert [p.name for p in tmp_path.iterdir()] == ["tiny"]  # no staging folder left behind


@pytest.mark.torch
def test_export_efficientnet_with_calibrated_int8(tmp_path: Path) -> None:
    pytest.importorskip("efficientnet_lite_pytorch")
    out = tmp_path / "lite0"
    args = ["model", "export", "efficientnet-lite0", "--out", str(out), "--calibration", str(IMAGES)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    spec = ModelSpec.load(out)
    assert spec.dim == 1280 and spec.text is None and (out / "image.int8.onnx").is_file()
    assert result.stdout.strip() == str(out)  # stdout carries the folder only, for scripts
