"""Integration with the real ONNX runtime and the tiny CLIP fixture (skipped until both exist)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from pixseek.cli import app
from pixseek.services import Index

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / "tests" / "fixtures" / "tiny-clip"
STAMPS = Path("/usr/share/tuxpaint/stamps")

pytestmark = pytest.mark.skipif(
    not (TINY / "pixseek-model.json").is_file() or not STAMPS.is_dir(),
    reason="needs tests/fixtures/tiny-clip and the Tux Paint stamps",
)


@pytest.fixture(scope="module")
def stamps(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 real stamps (PNG with transparency) under their category folders."""
    out = tmp_path_factory.mktemp("stamps")
    for category in ("animals", "food", "vehicles", "plants"):
        (out / category).mkdir()
        for src in sorted((STAMPS / category).rglob("*.png"))[:10]:
            shutil.copy2(src, out / category / src.name)
    return out


def test_index_with_worker_processes_matches_direct_embedding(stamps: Path, tmp_path: Path) -> None:
    from pixseek.models.embedder import OnnxEmbedder

    embedder = OnnxEmbedder.from_folder(TINY)
    index = Index(tmp_path / "db", embedder=OnnxEmbedder.from_folder(TINY))
    report = index.add(stamps, workers=2, batch_size=8)
    assert report.added == 40 and report.failed == []
    arrays = index.arrays()
    direct = embedder.embed_images([stamps / p for p in arrays.paths])
    cosine = np.sum(arrays.vectors * direct, axis=1)
    assert cosine.min() > 0.999  # float16 storage only
    assert index.labels() == ["animals", "food", "plants", "vehicles"]
    hits = index.search(text="a photo of a dog", k=5)
    scores = arrays.vectors @ embedder.embed_texts(["a photo of a dog"])[0]
    assert [h.id for h in hits] == [arrays.ids[i] for i in np.argsort(-scores, kind="stable")[:5]]


def test_cli_round_trip_uses_the_indexed_model(stamps: Path, tmp_path: Path) -> None:
    pytest.importorskip("pixseek.models.registry")
    runner = CliRunner()
    db = str(tmp_path / "db")
    result = runner.invoke(app, ["index", str(stamps), "--db", db, "--model", str(TINY), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["added"] == 40
    found = runner.invoke(
        app, ["search", "--text", "car", "--db", db, "--json", "-k", "3"]
    )  # model: the index's
    assert found.exit_code == 0, found.output
    assert len(json.loads(found.stdout)["results"]) == 3
    info = json.loads(runner.invoke(app, ["info", "--db", db, "--json"]).stdout)
    assert info["images"] == 40 and info["dim"] > 0
