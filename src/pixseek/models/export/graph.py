"""Shared ONNX export steps: TorchScript export with a dynamic batch axis, and a check of the graph."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import onnx

from pixseek.errors import ModelFileError

if TYPE_CHECKING:
    import torch

BATCH_AXIS = "batch"
SEQUENCE_AXIS = "sequence"


def export_module(
    module: torch.nn.Module,
    example_inputs: tuple[torch.Tensor, ...],
    path: Path,
    *,
    input_names: Sequence[str],
    output_names: Sequence[str],
    sequence_inputs: Sequence[str] = (),
    opset: int = 17,
) -> Path:
    """Export module to one self-contained ONNX file whose inputs and outputs have a dynamic batch axis.

    Inputs named in `sequence_inputs` also get a dynamic axis 1 (token count).
    """
    import torch

    axes: dict[str, dict[int, str]] = {name: {0: BATCH_AXIS} for name in (*input_names, *output_names)}
    for name in sequence_inputs:
        axes[name][1] = SEQUENCE_AXIS
    path.parent.mkdir(parents=True, exist_ok=True)
    # The TorchScript exporter warns about constant folding it skips: noise to a user, not a problem.
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        torch.onnx.export(
            module.eval(),
            example_inputs,
            str(path),
            input_names=list(input_names),
            output_names=list(output_names),
            dynamic_axes=axes,
            opset_version=opset,
            do_constant_folding=True,
            dynamo=False,
        )
    return path


def assert_dynamic_batch(path: Path) -> None:
    """Raise ModelFileError if any graph input or output of the ONNX file has a fixed batch dimension."""
    graph = onnx.load(str(path), load_external_data=False).graph
    for value in (*graph.input, *graph.output):
        dims = value.type.tensor_type.shape.dim
        if not dims or dims[0].HasField("dim_value"):
            fixed = dims[0].dim_value if dims else "none"
            raise ModelFileError(f"{path}: '{value.name}' has a fixed batch size ({fixed}); expected dynamic")
