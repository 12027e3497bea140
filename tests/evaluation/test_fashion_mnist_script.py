"""scripts/fashion_mnist_to_folder.py on a tiny hand-made IDX dataset."""

from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from PIL import Image

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "fashion_mnist_to_folder.py"


@pytest.fixture(scope="module")
def script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fashion_mnist_to_folder", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_idx(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def source(tmp_path: Path) -> Path:
    folder = tmp_path / "src"
    folder.mkdir()
    labels = np.array([0, 1, 0, 1, 0, 9])
    images = np.stack([np.full((28, 28), 10 * i) for i in range(len(labels))])
    write_idx(folder / "t10k-images-idx3-ubyte.gz", images)
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", labels)
    return folder


def test_test_split_becomes_class_folders(script: ModuleType, source: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    script.main([str(out), "--source", str(source)])
    assert sorted(p.name for p in (out / "t-shirt").iterdir()) == [
        "test_00000.png",
        "test_00002.png",
        "test_00004.png",
    ]
    with Image.open(out / "ankle_boot" / "test_00005.png") as im:
        assert (im.size, im.mode, im.getpixel((3, 3))) == ((28, 28), "L", 50)


def test_per_class_subset_is_stratified_and_seeded(script: ModuleType) -> None:
    labels = np.array([0] * 5 + [1] * 5)
    picked = script.stratified_subset(labels, 2, seed=1)
    assert sorted(labels[picked].tolist()) == [0, 0, 1, 1]
    assert picked.tolist() == script.stratified_subset(labels, 2, seed=1).tolist()
    with pytest.raises(ValueError, match="only 5 images"):
        script.stratified_subset(labels, 6, seed=1)


def test_not_an_idx_file_is_refused(script: ModuleType, tmp_path: Path) -> None:
    bad = tmp_path / "bad.gz"
    with gzip.open(bad, "wb") as f:
        f.write(b"PK\x03\x04 not idx")
    with pytest.raises(ValueError, match="not an unsigned-byte IDX"):
        script.read_idx(bad)
