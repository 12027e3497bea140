"""One ONNX Runtime session: providers with CPU fallback, thread count, full graph optimisation."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from pixseek.errors import ModelFileError

log = logging.getLogger(__name__)
CPU = "CPUExecutionProvider"
_NUMPY_TYPES = {
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
}


@dataclass(frozen=True, slots=True)
class TensorInfo:
    """A graph input or output: its name, shape (ints or symbolic names) and numpy dtype."""

    name: str
    shape: tuple[int | str | None, ...]
    dtype: type[np.generic] | None


class OnnxSession:
    """Wraps onnxruntime.InferenceSession; errors name the ONNX file."""

    def __init__(self, path: str | Path, *, threads: int | None, providers: Sequence[str]) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise ModelFileError(f"{self.path}: ONNX file missing")
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads or 0  # 0: ONNX Runtime uses every core
        options.inter_op_num_threads = 1  # CLIP towers are one chain; parallelism is intra-op
        options.log_severity_level = 3
        self.providers = choose_providers(providers)
        try:
            self._session = ort.InferenceSession(str(self.path), options, providers=self.providers)
        except Exception as exc:  # ORT raises its own pybind exception types for bad graphs
            raise ModelFileError(f"{self.path}: not a loadable ONNX model ({exc})") from exc
        self.inputs = {i.name: _info(i) for i in self._session.get_inputs()}
        self.outputs = {o.name: _info(o) for o in self._session.get_outputs()}

    def require(self, *, inputs: Sequence[str], outputs: Sequence[str]) -> None:
        """ModelFileError naming the file when the manifest's tensor names are not in the graph."""
        for kind, wanted, have in (("input", inputs, self.inputs), ("output", outputs, self.outputs)):
            for name in wanted:
                if name not in have:
                    raise ModelFileError(
                        f"{self.path}: the manifest names {kind} {name!r}, the graph has {sorted(have)}"
                    )

    def fixed_batch(self, input_name: str) -> int | None:
        """The batch size the graph is fixed at, or None when the batch dimension is dynamic."""
        first = self.inputs[input_name].shape[0] if self.inputs[input_name].shape else None
        return first if isinstance(first, int) and first > 0 else None

    def dynamic_axis(self, input_name: str, axis: int) -> bool:
        """Whether the graph accepts any length along `axis` of an input (a symbolic or unknown dim)."""
        shape = self.inputs[input_name].shape
        if not shape or axis >= len(shape):
            return False
        return not (isinstance(shape[axis], int) and shape[axis] > 0)

    def run(self, output: str, feeds: Mapping[str, np.ndarray]) -> np.ndarray:
        """Run the graph for one output, casting each feed to the dtype the graph declares."""
        cast = {}
        for name, value in feeds.items():
            dtype = self.inputs[name].dtype
            cast[name] = value.astype(dtype, copy=False) if dtype is not None else value
        try:
            return self._session.run([output], cast)[0]
        except Exception as exc:
            raise ModelFileError(f"{self.path}: inference failed ({exc})") from exc


def choose_providers(requested: Sequence[str]) -> list[str]:
    """The requested providers this onnxruntime build has, in order, always ending with CPU."""
    available = set(ort.get_available_providers())
    chosen = [p for p in requested if p in available]
    missing = [p for p in requested if p not in available]
    if missing:
        log.warning(
            "ONNX Runtime providers %s are not available here (have %s); falling back to %s",
            missing,
            sorted(available),
            [*chosen, CPU] if CPU not in chosen else chosen,
        )
    if CPU not in chosen:
        chosen.append(CPU)
    return chosen


def _info(arg: ort.NodeArg) -> TensorInfo:
    return TensorInfo(arg.name, tuple(arg.shape or ()), _NUMPY_TYPES.get(arg.type))
