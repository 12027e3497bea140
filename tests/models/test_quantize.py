"""int8 image towers: dynamic for transformers, static (calibrated) for CNNs; the manifest records them."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest

from pixseek.errors import ModelFileError
from pixseek.models.embedder import OnnxEmbedder
from pixseek.models.export.graph import assert_dynamic_batch
from pixseek.models.export.quantize import calibration_batches, quantize_image_tower
from pixseek.models.spec import ModelSpec
from tests.models.conftest import PHOTO, STAMP, TINY_CLIP


@pytest.fixture
def fp32_only(tmp_path: Path) -> Path:
    """tiny-clip without its int8 tower."""
    folder = tmp_path / "tiny-clip"
    shutil.copytree(TINY_CLIP, folder, ignore=shutil.ignore_patterns("hf", "*.int8.onnx"))
    spec = ModelSpec.load(folder)
    dataclasses.replace(spec, image=dataclasses.replace(spec.image, file_int8=None)).save(folder)
    return folder


def _cosines(folder: Path) -> np.ndarray:
    fp32 = OnnxEmbedder.from_folder(folder, threads=1)
    int8 = OnnxEmbedder.from_folder(folder, threads=1, int8=True)
    loader = fp32.image_loader()
    pixels = np.stack([loader(p).pixels for p in (PHOTO, STAMP)])
    return (fp32.embed_pixels(pixels) * int8.embed_pixels(pixels)).sum(axis=1)


def test_dynamic_int8_is_written_and_recorded(fp32_only: Path) -> None:
    path = quantize_image_tower(fp32_only)
    assert path == fp32_only / "image.int8.onnx" and path.is_file()
    assert ModelSpec.load(fp32_only).image.file_int8 == "image.int8.onnx"
    assert_dynamic_batch(path)
    assert _cosines(fp32_only).min() > 0.95  # a random 2-layer model; real figures: benchmarks/


def test_static_int8_calibrates_on_real_images(fp32_only: Path) -> None:
    spec = ModelSpec.load(fp32_only)
    batches = calibration_batches([PHOTO, STAMP, PHOTO], spec.image, batch_size=2)
    assert [b.shape for b in batches] == [(2, 3, 224, 224), (1, 3, 224, 224)]
    quantize_image_tower(fp32_only, mode="static", calibration=batches)
    assert ModelSpec.load(fp32_only).image.file_int8 == "image.int8.onnx"
    assert _cosines(fp32_only).min() > 0.9


def test_static_without_calibration_is_refused_and_changes_nothing(fp32_only: Path) -> None:
    before = (fp32_only / "pixseek-model.json").read_text()
    with pytest.raises(ModelFileError, match="calibration"):
        quantize_image_tower(fp32_only, mode="static")
    assert (fp32_only / "pixseek-model.json").read_text() == before
    assert not (fp32_only / "image.int8.onnx").exists()


def test_no_calibration_images_is_an_error() -> None:
    with pytest.raises(ModelFileError, match="calibration"):
        calibration_batches([], ModelSpec.load(TINY_CLIP).image)


def test_unreadable_calibration_images_are_skipped(tmp_path: Path) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 not really a jpeg")
    tower = ModelSpec.load(TINY_CLIP).image
    assert [b.shape[0] for b in calibration_batches([broken, PHOTO], tower)] == [1]
    with pytest.raises(ModelFileError, match="no readable calibration images"):
        calibration_batches([broken], tower)


def test_unknown_mode_is_refused(fp32_only: Path) -> None:
    with pytest.raises(ValueError, match="mode"):
        quantize_image_tower(fp32_only, mode="float4")  # type: ignore[arg-type]
