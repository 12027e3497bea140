"""`pixseek eval` and `classify` with the bundled EfficientNet-Lite0 on three Tux Paint classes (slow)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pixseek.cli import app

STAMPS = Path("/usr/share/tuxpaint/stamps")
CLASSES = ("food", "symbols", "vehicles")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def subset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not STAMPS.is_dir():
        pytest.skip("tuxpaint-stamps-default is not installed")
    pytest.importorskip("efficientnet_lite_pytorch")
    root = tmp_path_factory.mktemp("stamps")
    for name in CLASSES:
        for i, path in enumerate(sorted((STAMPS / name).rglob("*.png"))[:15]):
            (root / name).mkdir(exist_ok=True)
            shutil.copy(path, root / name / f"{i}_{path.name}")
    return root


def test_eval_and_classify_with_the_bundled_model(subset: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "report"
    args = ["eval", str(subset), "--model", "efficientnet-lite0", "--out", str(out), "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["n_images"], report["n_classes"], report["model"]) == (45, 3, "efficientnet-lite0")
    assert report["classifiers"]["zero_shot"]["skipped"] is True
    assert report["classifiers"]["svm"]["accuracy"] > report["classifiers"]["dummy"]["accuracy"]
    image = next((subset / "symbols").iterdir())
    answer = runner.invoke(app, ["classify", str(image), "--report", str(out), "--json"])
    assert answer.exit_code == 0, answer.output
    assert json.loads(answer.stdout)["label"] in CLASSES
