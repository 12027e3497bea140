"""Model fixtures: real test images, and tiny ONNX model folders built with the `onnx` helper API."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from pixseek.models.spec import ImageTower, ModelSpec, TextTower

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
IMAGES = FIXTURES / "images"
TINY_CLIP = FIXTURES / "tiny-clip"
PHOTO = IMAGES / "photo.jpg"  # 640x427 real photo
STAMP = IMAGES / "stamp.png"  # 93x120 RGBA clip art with transparency

DIM = 8
SIZE = 32  # small input keeps the graphs and tests fast


def image_graph(
    path: Path, *, dim: int = DIM, batch: int | str = "batch", output: str = "image_embeds"
) -> None:
    """pixel_values (B, 3, S, S) -> mean over H, W -> (B, 3) @ W(3, dim) + b -> (B, dim)."""
    rng = np.random.default_rng(1)
    weight = numpy_helper.from_array(rng.standard_normal((3, dim)).astype(np.float32), "W")
    bias = numpy_helper.from_array(rng.standard_normal(dim).astype(np.float32), "b")
    nodes = [
        helper.make_node("ReduceMean", ["pixel_values"], ["pooled"], axes=[2, 3], keepdims=0),
        helper.make_node("MatMul", ["pooled", "W"], ["projected"]),
        helper.make_node("Add", ["projected", "b"], [output]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny-image",
        [helper.make_tensor_value_info("pixel_values", TensorProto.FLOAT, [batch, 3, SIZE, SIZE])],
        [helper.make_tensor_value_info(output, TensorProto.FLOAT, [batch, dim])],
        initializer=[weight, bias],
    )
    _save(graph, path)


def text_graph(path: Path, *, dim: int = DIM, context: int = 77) -> None:
    """input_ids (B, L) int64 + attention_mask -> float -> (B, L) @ W(L, dim) -> (B, dim)."""
    rng = np.random.default_rng(2)
    weight = numpy_helper.from_array(rng.standard_normal((context, dim)).astype(np.float32) / 5e4, "W")
    nodes = [
        helper.make_node("Cast", ["input_ids"], ["ids_f"], to=TensorProto.FLOAT),
        helper.make_node("Cast", ["attention_mask"], ["mask_f"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["ids_f", "mask_f"], ["masked"]),
        helper.make_node("MatMul", ["masked", "W"], ["text_embeds"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny-text",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", context]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", context]),
        ],
        [helper.make_tensor_value_info("text_embeds", TensorProto.FLOAT, ["batch", dim])],
        initializer=[weight],
    )
    _save(graph, path)


def _save(graph: onnx.GraphProto, path: Path) -> None:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)


def make_model_folder(
    folder: Path, *, text: bool = False, batch: int | str = "batch", name: str = "tiny"
) -> Path:
    """A complete model folder (manifest + ONNX files); the text tower reuses tiny-clip's tokenizer."""
    folder.mkdir(parents=True, exist_ok=True)
    image_graph(folder / "image.onnx", batch=batch)
    text_tower = None
    if text:
        text_graph(folder / "text.onnx")
        (folder / "tokenizer.json").write_bytes((TINY_CLIP / "tokenizer.json").read_bytes())
        text_tower = TextTower(file="text.onnx")
    spec = ModelSpec(name=name, dim=DIM, image=ImageTower(file="image.onnx", size=SIZE), text=text_tower)
    spec.save(folder)
    return folder


@pytest.fixture
def tiny_model(tmp_path: Path) -> Path:
    """Image-only model folder with a dynamic batch axis."""
    return make_model_folder(tmp_path / "tiny")


@pytest.fixture
def tiny_text_model(tmp_path: Path) -> Path:
    """Model folder with image and text towers."""
    return make_model_folder(tmp_path / "tiny-text", text=True, name="tiny-text")
