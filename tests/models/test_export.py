"""Export: graphs with a dynamic batch, manifests, CLIP's vocabulary; the torch parts are marked."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from pixseek.errors import ModelFileError
from pixseek.models.export.graph import assert_dynamic_batch
from pixseek.models.export.tokenizer_files import (
    BUNDLED_BPE,
    VOCAB_SIZE,
    build_vocab,
    bytes_to_unicode,
    read_merges,
    write_vocab_and_merges,
)
from pixseek.models.spec import ModelSpec
from tests.models.conftest import TINY_CLIP, image_graph


def _run(path: Path, feeds: dict[str, np.ndarray]) -> np.ndarray:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, feeds)[0]


# -- without torch: the committed fixture and the pure helpers ----------------------------------------------
@pytest.mark.parametrize("batch", [1, 5])
def test_fixture_graphs_accept_any_batch(batch: int) -> None:
    spec = ModelSpec.load(TINY_CLIP)
    pixels = np.random.default_rng(0).standard_normal((batch, 3, 224, 224)).astype(np.float32)
    assert _run(TINY_CLIP / spec.image.file, {"pixel_values": pixels}).shape == (batch, spec.dim)
    ids = np.full((batch, 77), 49407, np.int64)
    ids[:, 0] = 49406
    mask = (np.arange(77) < 2).astype(np.int64)[None].repeat(batch, 0)
    out = _run(TINY_CLIP / "text.onnx", {"input_ids": ids, "attention_mask": mask})
    assert out.shape == (batch, spec.dim)


def test_fixture_text_graph_gives_the_same_embedding_without_the_padding() -> None:
    """Causal attention: positions after the end token never reach it, so a query can skip them."""
    ids = np.full((2, 77), 49407, np.int64)
    ids[:, :4] = [[49406, 320, 1125, 49407], [49406, 2368, 49407, 49407]]
    mask = (ids != 49407).astype(np.int64)
    mask[:, :4] = [[1, 1, 1, 1], [1, 1, 1, 0]]
    full = _run(TINY_CLIP / "text.onnx", {"input_ids": ids, "attention_mask": mask})
    short = _run(TINY_CLIP / "text.onnx", {"input_ids": ids[:, :4], "attention_mask": mask[:, :4]})
    np.testing.assert_allclose(short, full, atol=1e-6)


def test_fixture_graphs_have_a_dynamic_batch_axis() -> None:
    for name in ("image.onnx", "text.onnx", "image.int8.onnx"):
        assert_dynamic_batch(TINY_CLIP / name)


def test_a_graph_fixed_at_batch_1_is_refused(tmp_path: Path) -> None:
    image_graph(tmp_path / "fixed.onnx", batch=1)
    with pytest.raises(ModelFileError, match=r"fixed.onnx.*fixed batch"):
        assert_dynamic_batch(tmp_path / "fixed.onnx")


def test_clip_vocabulary_is_rebuilt_in_clips_order() -> None:
    vocab = build_vocab(read_merges(BUNDLED_BPE))
    assert len(vocab) == VOCAB_SIZE
    assert vocab["!"] == 0 and vocab["!</w>"] == 256  # bytes, then bytes + '</w>'
    assert vocab["a</w>"] == 320 and vocab["photo</w>"] == 1125 and vocab["cat</w>"] == 2368
    assert vocab["<|startoftext|>"] == 49406 and vocab["<|endoftext|>"] == 49407
    assert len(set(bytes_to_unicode().values())) == 256


def test_vocab_and_merges_files(tmp_path: Path) -> None:
    vocab_path, merges_path = write_vocab_and_merges(BUNDLED_BPE, tmp_path)
    assert len(json.loads(vocab_path.read_text(encoding="utf-8"))) == VOCAB_SIZE
    lines = merges_path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "#version: 0.2" and lines[1] == "i n" and len(lines) == 1 + 48894


def test_a_damaged_bpe_file_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "bpe.txt.gz"
    bad.write_bytes(b"not gzip")
    with pytest.raises(ModelFileError, match=r"bpe.txt.gz"):
        read_merges(bad)
    short = tmp_path / "short.txt.gz"
    short.write_bytes(gzip.compress(b"header\ni n\n"))
    with pytest.raises(ModelFileError, match="merge lines"):
        read_merges(short)


# -- with torch: real exports ----------------------------------------------------------------------
@pytest.mark.torch
def test_export_clip_from_a_checkpoint_folder(tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    from pixseek.models.export.clip import export_clip

    spec = export_clip(TINY_CLIP / "hf", tmp_path / "out", name="again", int8=True)
    assert spec.name == "again" and spec.dim == 24 and spec.image.file_int8 == "image.int8.onnx"
    assert spec.text is not None and spec.text.context_length == 77
    assert ModelSpec.load(tmp_path / "out") == spec
    pixels = np.random.default_rng(1).standard_normal((5, 3, 224, 224)).astype(np.float32)
    fresh = _run(tmp_path / "out" / "image.onnx", {"pixel_values": pixels})
    committed = _run(TINY_CLIP / "image.onnx", {"pixel_values": pixels})
    np.testing.assert_allclose(fresh, committed, atol=1e-5)  # the script's fixture is reproducible
    tokenizer = json.loads((tmp_path / "out" / "tokenizer.json").read_text(encoding="utf-8"))
    assert len(tokenizer["model"]["vocab"]) == VOCAB_SIZE


@pytest.mark.torch
def test_export_clip_rejects_a_folder_without_a_checkpoint(tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    from pixseek.errors import ModelError
    from pixseek.models.export.clip import export_clip

    with pytest.raises(ModelError, match="CLIP checkpoint"):
        export_clip(tmp_path, tmp_path / "out", name="x")


@pytest.mark.torch
def test_efficientnet_lite0_exports_pooled_features(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    pytest.importorskip("efficientnet_lite_pytorch")
    from pixseek.models.export.efficientnet import _load, export_efficientnet

    spec = export_efficientnet("efficientnet-lite0", tmp_path)
    assert (spec.name, spec.dim, spec.text, spec.image.size) == ("efficientnet-lite0", 1280, None, 224)
    assert spec.image.mean[0] == pytest.approx(127 / 255) and spec.image.std[0] == pytest.approx(128 / 255)
    pixels = np.random.default_rng(2).standard_normal((5, 3, 224, 224)).astype(np.float32)
    features = _run(tmp_path / "image.onnx", {"pixel_values": pixels})
    assert features.shape == (5, 1280)
    net = _load("efficientnet-lite0")
    with torch.no_grad():  # the features are exactly what the ImageNet classifier reads
        logits = net(torch.from_numpy(pixels)).numpy()
        from_features = net._fc(torch.from_numpy(features)).numpy()
    np.testing.assert_allclose(from_features, logits, rtol=1e-3, atol=1e-3)
    assert _run(tmp_path / "image.onnx", {"pixel_values": pixels[:1]}).shape == (1, 1280)


@pytest.mark.torch
def test_unknown_efficientnet_variant_is_refused(tmp_path: Path) -> None:
    pytest.importorskip("efficientnet_lite_pytorch")
    from pixseek.errors import ModelError
    from pixseek.models.export.efficientnet import export_efficientnet

    with pytest.raises(ModelError, match="efficientnet-lite9"):
        export_efficientnet("efficientnet-lite9", tmp_path)  # type: ignore[arg-type]


@pytest.mark.torch
@pytest.mark.slow
def test_full_size_vit_b32_export_matches_torch(tmp_path: Path) -> None:
    """The real architecture (random weights): ONNX Runtime against transformers, cosine >= 0.9999."""
    torch = pytest.importorskip("torch")
    from pixseek.models.export.clip import export_random_vit_b32, random_vit_b32

    spec = export_random_vit_b32(tmp_path, int8=False)
    assert (spec.dim, spec.image.size) == (512, 224)
    model = random_vit_b32()
    pixels = np.random.default_rng(3).standard_normal((2, 3, 224, 224)).astype(np.float32)
    ids = np.array([[49406, 320, 1125, 539, 320, 1929, 49407]] * 2, np.int64)
    mask = np.ones_like(ids)
    with torch.no_grad():
        ref_image = model.get_image_features(pixel_values=torch.from_numpy(pixels)).pooler_output.numpy()
        ref_text = model.get_text_features(
            input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)
        ).pooler_output.numpy()
    image = _run(tmp_path / "image.onnx", {"pixel_values": pixels})
    text = _run(tmp_path / "text.onnx", {"input_ids": ids, "attention_mask": mask})
    for ours, ref in ((image, ref_image), (text, ref_text)):
        cosine = (ours * ref).sum(1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(ref, axis=1)
        assert cosine.min() >= 0.9999


@pytest.mark.torch
def test_export_clip_reads_the_checkpoints_normalisation(tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    from pixseek.models.export.clip import export_clip

    checkpoint = shutil.copytree(TINY_CLIP / "hf", tmp_path / "hf")
    config = {"image_mean": [0.5, 0.5, 0.5], "image_std": [0.25, 0.25, 0.25]}
    (checkpoint / "preprocessor_config.json").write_text(json.dumps(config), encoding="utf-8")
    spec = export_clip(checkpoint, tmp_path / "out", name="x")
    assert spec.image.mean == (0.5, 0.5, 0.5) and spec.image.std == (0.25, 0.25, 0.25)
