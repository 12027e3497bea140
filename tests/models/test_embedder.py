"""OnnxEmbedder on tiny ONNX graphs built here, and on the committed tiny random CLIP."""

from __future__ import annotations

import logging
import pickle
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pixseek.errors import ImageReadError, ModelFileError, TextNotSupportedError
from pixseek.models.embedder import OnnxEmbedder
from pixseek.models.spec import MANIFEST_NAME, ModelSpec
from pixseek.types import Embedder
from tests.models.conftest import DIM, PHOTO, SIZE, STAMP, TINY_CLIP, image_graph, make_model_folder


def _unit_rows(x: np.ndarray) -> bool:
    return bool(np.allclose(np.linalg.norm(x, axis=1), 1, atol=1e-5))


def test_images_embed_to_unit_float32_rows(tiny_model: Path) -> None:
    embedder = OnnxEmbedder.from_folder(tiny_model)
    assert isinstance(embedder, Embedder)
    out = embedder.embed_images([PHOTO, STAMP, PHOTO])
    assert out.shape == (3, DIM) and out.dtype == np.float32 and _unit_rows(out)
    assert np.allclose(out[0], out[2]) and not np.allclose(out[0], out[1])


def test_the_embedder_normalises_even_when_the_graph_does_not(tiny_model: Path) -> None:
    embedder = OnnxEmbedder.from_folder(tiny_model)
    raw = embedder._image.run("image_embeds", {"pixel_values": np.ones((1, 3, SIZE, SIZE), np.float32)})
    assert not np.isclose(np.linalg.norm(raw), 1)
    assert _unit_rows(embedder.embed_pixels(np.ones((1, 3, SIZE, SIZE), np.float32)))


def test_results_do_not_depend_on_the_batch_size(tiny_model: Path) -> None:
    embedder = OnnxEmbedder.from_folder(tiny_model, batch_size=2)
    images = [PHOTO, STAMP] * 3
    assert np.allclose(embedder.embed_images(images), embedder.embed_images(images, batch_size=5), atol=1e-6)


def test_a_graph_fixed_at_batch_one_runs_one_by_one(tmp_path: Path, tiny_model: Path) -> None:
    fixed = make_model_folder(tmp_path / "fixed", batch=1)
    pixels = OnnxEmbedder.from_folder(tiny_model).image_loader()(PHOTO).pixels
    batch = np.stack([pixels, pixels * 0.5, pixels])
    expected = OnnxEmbedder.from_folder(tiny_model).embed_pixels(batch)
    assert np.allclose(
        OnnxEmbedder.from_folder(fixed, batch_size=32).embed_pixels(batch), expected, atol=1e-6
    )


def test_paths_bytes_and_pil_images_agree(tiny_model: Path) -> None:
    embedder = OnnxEmbedder.from_folder(tiny_model)
    out = embedder.embed_images([PHOTO, PHOTO.read_bytes(), Image.open(PHOTO)])
    assert np.allclose(out[0], out[1], atol=1e-6)
    assert np.allclose(out[0], out[2], atol=1e-2)  # a PIL image is decoded in full, a path with draft


def test_empty_inputs_give_empty_arrays(tiny_text_model: Path) -> None:
    embedder = OnnxEmbedder.from_folder(tiny_text_model)
    assert embedder.embed_images([]).shape == (0, DIM)
    assert embedder.embed_texts([]).shape == (0, DIM)


def test_unreadable_image_raises_for_that_file(tiny_model: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"nope")
    with pytest.raises(ImageReadError) as info:
        OnnxEmbedder.from_folder(tiny_model).embed_images([PHOTO, bad])
    assert info.value.path == str(bad)


def test_image_loader_is_picklable_and_keeps_the_original_size(tiny_model: Path) -> None:
    embedder = OnnxEmbedder.from_folder(tiny_model)
    loader = pickle.loads(pickle.dumps(embedder.image_loader()))
    loaded = loader(PHOTO)
    assert loaded.pixels.shape == (3, SIZE, SIZE) and (loaded.width, loaded.height) == (640, 427)
    assert np.allclose(embedder.embed_pixels(loaded.pixels[None]), embedder.embed_images([PHOTO]))


def test_the_embedder_pickles_by_reloading_its_folder(tiny_model: Path) -> None:
    embedder = OnnxEmbedder.from_folder(tiny_model, batch_size=3)
    clone = pickle.loads(pickle.dumps(embedder))
    assert clone.batch_size == 3 and clone.fingerprint == embedder.fingerprint
    assert np.allclose(clone.embed_images([PHOTO]), embedder.embed_images([PHOTO]))


def test_text(tiny_text_model: Path) -> None:
    embedder = OnnxEmbedder.from_folder(tiny_text_model)
    out = embedder.embed_texts(["a photo of a dog", "", "Ünïcødé 🐶", "long " * 100])
    assert out.shape == (4, DIM) and out.dtype == np.float32 and _unit_rows(out)
    with pytest.raises(TypeError):
        embedder.embed_texts("one string")  # type: ignore[arg-type]


def test_image_only_model_refuses_text_with_its_name(tiny_model: Path) -> None:
    embedder = OnnxEmbedder.from_folder(tiny_model)
    assert not embedder.has_text
    with pytest.raises(TextNotSupportedError, match="'tiny' is image-only"):
        embedder.embed_texts(["a dog"])


def test_fingerprint_tracks_weights_and_preprocessing(tiny_model: Path, tmp_path: Path) -> None:
    first = OnnxEmbedder.from_folder(tiny_model).fingerprint
    assert first.startswith("tiny:") and first == OnnxEmbedder.from_folder(tiny_model).fingerprint
    other = make_model_folder(tmp_path / "other")
    image_graph(other / "image.onnx", dim=DIM, output="image_embeds")  # same graph -> same identity
    assert OnnxEmbedder.from_folder(other).fingerprint == first
    spec = ModelSpec.load(other)
    replace(spec, image=replace(spec.image, mean=(0.5, 0.5, 0.5))).save(other)
    assert OnnxEmbedder.from_folder(other).fingerprint != first


# -- broken model folders: every error names the file ---------------------------------------------
def test_missing_onnx_file_is_named(tiny_model: Path) -> None:
    (tiny_model / "image.onnx").unlink()
    with pytest.raises(ModelFileError, match=r"image\.onnx"):
        OnnxEmbedder.from_folder(tiny_model)


def test_corrupt_onnx_file_is_named(tiny_model: Path) -> None:
    (tiny_model / "image.onnx").write_bytes(b"\x08\x07garbage" * 100)
    with pytest.raises(ModelFileError, match=r"image\.onnx"):
        OnnxEmbedder.from_folder(tiny_model)


def test_missing_manifest_is_named(tiny_model: Path) -> None:
    (tiny_model / MANIFEST_NAME).unlink()
    with pytest.raises(ModelFileError, match=MANIFEST_NAME):
        OnnxEmbedder.from_folder(tiny_model)


def test_tensor_name_mismatch_is_named(tiny_model: Path) -> None:
    image_graph(tiny_model / "image.onnx", output="features")
    with pytest.raises(ModelFileError, match=r"image\.onnx.*'image_embeds'.*\['features'\]"):
        OnnxEmbedder.from_folder(tiny_model)


def test_dimension_mismatch_is_named(tiny_model: Path) -> None:
    image_graph(tiny_model / "image.onnx", dim=DIM + 1)
    with pytest.raises(ModelFileError, match=r"image\.onnx.*width 9.*dim 8"):
        OnnxEmbedder.from_folder(tiny_model)


def test_int8_without_a_quantised_tower(tiny_model: Path) -> None:
    with pytest.raises(ModelFileError, match="no int8 image tower"):
        OnnxEmbedder.from_folder(tiny_model, int8=True)


def test_missing_text_tower_file_is_named(tiny_text_model: Path) -> None:
    (tiny_text_model / "text.onnx").unlink()
    with pytest.raises(ModelFileError, match=r"text\.onnx"):
        OnnxEmbedder.from_folder(tiny_text_model)


def test_cuda_request_falls_back_to_cpu_with_a_warning(
    tiny_model: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this onnxruntime build has CUDA")
    with caplog.at_level(logging.WARNING, logger="pixseek.models.session"):
        embedder = OnnxEmbedder.from_folder(tiny_model, providers=("CUDAExecutionProvider",), threads=1)
    assert embedder._image.providers == ["CPUExecutionProvider"]
    assert "CUDAExecutionProvider" in caplog.text and "falling back" in caplog.text
    assert embedder.embed_images([PHOTO]).shape == (1, DIM)


# -- the committed tiny random CLIP (made by scripts/make_tiny_clip.py) ---------------------------
def test_tiny_clip_images_and_texts() -> None:
    embedder = OnnxEmbedder.from_folder(TINY_CLIP, threads=1)
    assert embedder.has_text and embedder.dim == 24
    images = embedder.embed_images([PHOTO, STAMP])
    texts = embedder.embed_texts(["a photo of a city", "a bird", ""])
    assert images.shape == (2, 24) and texts.shape == (3, 24)
    assert _unit_rows(images) and _unit_rows(texts)


def test_tiny_clip_int8_stays_close_to_fp32(tmp_path: Path) -> None:
    fp32 = OnnxEmbedder.from_folder(TINY_CLIP, threads=1)
    int8 = OnnxEmbedder.from_folder(TINY_CLIP, threads=1, int8=True)
    assert int8.fingerprint != fp32.fingerprint
    cosine = np.sum(fp32.embed_images([PHOTO, STAMP]) * int8.embed_images([PHOTO, STAMP]), axis=1)
    assert cosine.min() > 0.99
    copy = shutil.copytree(TINY_CLIP, tmp_path / "copy")
    (copy / "image.int8.onnx").unlink()
    with pytest.raises(ModelFileError, match=r"image\.int8\.onnx"):
        OnnxEmbedder.from_folder(copy, int8=True)
