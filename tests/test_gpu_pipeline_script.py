"""benchmarks/gpu_pipeline.py must stay runnable where no GPU is: GPU time is scarce, so a broken script
should fail here, not on the GPU machine. Also checks its torch preprocessing against pixseek's own."""

from __future__ import annotations

import importlib.util
import io
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from PIL import Image

from pixseek.models.preprocess import Preprocessor, center_crop
from pixseek.models.spec import ImageTower
from tests.subprocess_env import REPO, checkout_env

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytestmark = pytest.mark.torch

SCRIPT = REPO / "benchmarks" / "gpu_pipeline.py"
RATES = ("model_img_per_s", "decode_img_per_s", "decode_preprocess_img_per_s", "end_to_end_img_per_s")


@pytest.fixture(scope="module")
def gp() -> ModuleType:
    """The script as a module (registered first: its dataclasses look their module up)."""
    spec = importlib.util.spec_from_file_location("pixseek_gpu_pipeline", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _jpeg(path: Path, size: tuple[int, int], seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0 : size[1], 0 : size[0]].astype(np.float32)
    base = np.stack([128 + 90 * np.sin(x / (25 + 20 * c) + y / 60) for c in range(3)], -1)
    pixels = np.clip(base + rng.normal(0, 6, base.shape), 0, 255).astype(np.uint8)
    Image.fromarray(pixels).save(path, quality=90)
    return path


@pytest.mark.slow
@pytest.mark.parametrize("decode", ["pil", "pil-tensor"])
def test_cpu_smoke_run_writes_sane_json(tmp_path: Path, decode: str) -> None:
    out = tmp_path / "report.json"
    cmd = [sys.executable, str(SCRIPT), "--device", "cpu", "--decode", decode, "--n", "4", "--batch", "4"]
    cmd += ["--unique", "2", "--parity", "2", "--workers", "1", "--seconds", "30", "--json", str(out)]
    done = subprocess.run(cmd, env=checkout_env(), capture_output=True, text=True, timeout=280, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["complete"] is True
    assert report["env"]["device"] == "cpu" and report["env"]["dtype"] == "float32"
    assert report["env"]["decode"] == decode
    assert set(report["sets"]) == {"2mp", "500x375"}
    for name, result in report["sets"].items():
        assert (result["width"], result["height"]) == {"2mp": (1920, 1080), "500x375": (500, 375)}[name]
        assert result["mean_file_bytes"] > 0
        for key in RATES:
            assert result[key] > 0, (name, key)
        assert result["end_to_end"]["images"] == 4
        assert result["meets_goal"] is None  # no verdict off a GPU
        parity = result["parity"]
        assert parity["images"] == 2
        assert parity["vs_pixseek_loader"]["cosine_min"] >= 0.999
        assert parity["loader_matches_pixseek_imageloader"] is True


def test_draft_scale_is_pils_jpeg_draft(gp: ModuleType) -> None:
    for size in [(1920, 1080), (500, 375), (1001, 673), (2000, 1500), (300, 250), (1797, 230)]:
        buf = io.BytesIO()
        Image.new("RGB", size, (90, 120, 150)).save(buf, "JPEG")
        with Image.open(buf) as im:
            im.draft("RGB", (224, 224))
            scale = gp.draft_scale(*size, 224)
            assert im.size == (-(-size[0] // scale), -(-size[1] // scale)), size


def test_center_crop_matches_pixseek_including_padding(gp: ModuleType) -> None:
    rng = np.random.default_rng(1)
    for shape in [(230, 300, 3), (224, 224, 3), (100, 300, 3), (301, 97, 3), (50, 60, 3)]:
        pixels = rng.integers(0, 255, shape, dtype=np.uint8)
        ours = gp._center_crop(torch.from_numpy(pixels).permute(2, 0, 1), 224).permute(1, 2, 0).numpy()
        np.testing.assert_array_equal(ours, center_crop(pixels, 224))


@pytest.mark.parametrize(
    "tower",
    [
        ImageTower(file="x"),
        ImageTower(file="x", interpolation="bilinear"),
        ImageTower(file="x", interpolation="nearest"),
        ImageTower(file="x", resize="squash", size=160),
    ],
    ids=["bicubic", "bilinear", "nearest", "squash160"],
)
def test_tensor_preprocess_matches_pixseek_preprocessor(
    gp: ModuleType, tmp_path: Path, tower: ImageTower
) -> None:
    """Full-size pixels, no draft: only the resampling differs (float32 with one rounding vs PIL's)."""
    images = [_jpeg(tmp_path / f"{i}.jpg", size, i) for i, size in enumerate([(640, 427), (333, 500)])]
    decode = gp.pil_tensor_decoder(torch.device("cpu"))
    for path in images:
        ours = gp.tensor_preprocess(decode([gp.read_bytes(path)]), tower, draft=False)[0].numpy()
        with Image.open(path) as im:
            theirs = Preprocessor(tower)(im.convert("RGB"))
        assert ours.shape == theirs.shape == (3, tower.size, tower.size)
        cos = float(np.sum(ours * theirs) / (np.linalg.norm(ours) * np.linalg.norm(theirs)))
        assert cos >= 0.9995, (path.name, cos)
        levels = np.abs(ours - theirs) * np.asarray(tower.std, np.float32).reshape(3, 1, 1) * 255
        assert levels.mean() < 1.5, (path.name, levels.mean())


def test_mixed_sizes_keep_their_order(gp: ModuleType) -> None:
    tower = ImageTower(file="x", size=32)
    images = [
        torch.full((3, h, w), v, dtype=torch.uint8) for v, (h, w) in enumerate([(40, 50), (64, 64), (40, 50)])
    ]
    out = gp.tensor_preprocess(images, tower, draft=False)
    mean, std = np.asarray(tower.mean, np.float32), np.asarray(tower.std, np.float32)
    for i in range(3):
        expected = (i / 255 - mean) / std
        np.testing.assert_allclose(out[i].mean(dim=(1, 2)).numpy(), expected, atol=1e-5)


def test_decode_parity_with_the_pil_tensor_decoder(gp: ModuleType, tmp_path: Path) -> None:
    """The parity report itself, with the decoder every machine has; draft reduce against the loader."""
    paths = [_jpeg(tmp_path / f"{i}.jpg", (1920, 1080), i) for i in range(2)]
    result = gp.preprocess_parity(paths, ImageTower(file="x"), gp.pil_tensor_decoder(torch.device("cpu")))
    assert result["images"] == 2
    assert result["vs_pixseek_loader"]["cosine_min"] >= 0.999
    assert result["vs_pil_full_decode"]["cosine_min"] >= 0.99


def test_decode_parity_with_torchvision_decode_jpeg(gp: ModuleType, tmp_path: Path) -> None:
    """torchvision's decoder (its CPU one here; nvJPEG on the GPU machine) against pixseek's loader."""
    decode_jpeg, why = gp.torchvision_decode_jpeg()
    if decode_jpeg is None:
        pytest.skip(f"optional torchvision absent, so its decode_jpeg cannot be compared ({why})")
    paths = [_jpeg(tmp_path / f"{i}.jpg", size, i) for i, size in enumerate([(1920, 1080), (500, 375)])]
    decoder = gp.torchvision_cpu_decoder(decode_jpeg, torch.device("cpu"))
    result = gp.preprocess_parity(paths, ImageTower(file="x"), decoder)
    assert result["vs_pixseek_loader"]["cosine_min"] >= 0.995
