"""The prepared GPU scripts must run where no GPU is, as gpu_pipeline.py's own test checks for it: a
device machine is lent for minutes, so a script broken by a library upgrade should fail here. Both had
been broken since they were written (transformers 5's feature outputs; a README among the fixture
images), and no GPU run had shown it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.subprocess_env import REPO, checkout_env

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytestmark = pytest.mark.torch

STAMPS = Path("/usr/share/tuxpaint/stamps")


def _run(args: list[str], cwd: Path) -> None:
    done = subprocess.run(
        [sys.executable, *args], cwd=cwd, env=checkout_env(), capture_output=True, text=True, timeout=280,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]


def test_gpu_embed_checks_its_parity_on_the_cpu(tmp_path: Path) -> None:
    out = tmp_path / "embed.json"
    _run([str(REPO / "benchmarks" / "gpu_embed.py"), "--device", "cpu", "--json", str(out)], cwd=tmp_path)
    parity = json.loads(out.read_text())["parity"]
    images = [p for p in (REPO / "tests" / "fixtures" / "images").iterdir() if p.suffix in {".png", ".jpg"}]
    assert parity["n_images"] == min(16, len(images)) > 0
    # the same tiny CLIP through torch and through ONNX Runtime (tests/models/test_parity.py's bound)
    assert parity["fp32_image_cosine_min"] > 0.9999
    assert parity["fp32_text_cosine_min"] > 0.9999


@pytest.mark.skipif(not STAMPS.is_dir(), reason="needs Debian's tuxpaint-stamps-default")
def test_gpu_finetune_runs_one_epoch_of_the_tiny_fixture_on_the_cpu(tmp_path: Path) -> None:
    out = tmp_path / "finetune.json"
    fixture = REPO / "tests" / "fixtures" / "tiny-clip"
    script = str(REPO / "benchmarks" / "gpu_finetune.py")
    options = ["--source", str(fixture), "--epochs", "1", "--batch-size", "32", "--out", str(out)]
    _run([script, *options], cwd=tmp_path)
    report = json.loads(out.read_text())
    held_out = report["held_out"]
    assert report["device"] == "cpu" and report["finetune"]["epochs"] == 1
    assert report["finetune"]["pairs"] == report["train_pairs"] > 0
    assert held_out == (report["train_pairs"] + held_out) // 5  # a fifth of the captioned stamps
    recall = report["held_out_recall_at_10"]
    assert recall["chance"] == pytest.approx(10 / held_out, abs=1e-4)
    assert 0.0 <= recall["before"] <= 1.0 and 0.0 <= recall["after"] <= 1.0
