"""int8 image towers with ONNX Runtime's quantiser; the variant is recorded as `image.file_int8`.

Transformers (CLIP) quantise well dynamically: weights int8 ahead of time, activations per batch. A
CNN such as EfficientNet-Lite needs static QDQ quantisation instead, because ONNX Runtime's dynamic
ConvInteger kernels are slower than fp32; static calibration runs a few real images through the model.
benchmarks/int8_quality.py measures speed and how far int8 moves embeddings and search results.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import logging
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_dynamic,
    quantize_static,
)
from onnxruntime.quantization.shape_inference import quant_pre_process

from pixseek.errors import ImageReadError, ModelFileError
from pixseek.models.imageio import open_image
from pixseek.models.preprocess import Preprocessor
from pixseek.models.spec import ImageTower, ModelSpec

QuantMode = Literal["dynamic", "static"]
log = logging.getLogger(__name__)


def quantize_image_tower(
    model_dir: Path,
    *,
    mode: QuantMode = "dynamic",
    calibration: Sequence[np.ndarray] = (),
) -> Path:
    """Write `<image file>.int8.onnx` next to the fp32 tower, record it in the manifest, return its path.

    `calibration` holds preprocessed float32 batches (N, 3, S, S) and is required for mode="static".
    """
    model_dir = Path(model_dir)
    spec = ModelSpec.load(model_dir)
    src = model_dir / spec.image.file
    dst = src.with_name(src.stem + ".int8.onnx")
    if mode not in ("dynamic", "static"):
        raise ValueError(f"unknown quantisation mode {mode!r}")
    if mode == "static" and not calibration:
        raise ModelFileError(f"{src}: static int8 quantisation needs calibration images")
    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(src), str(prepared), skip_symbolic_shape=True)
        if mode == "dynamic":
            quantize_dynamic(
                str(prepared),
                str(dst),
                weight_type=QuantType.QInt8,
                per_channel=False,
                op_types_to_quantize=["MatMul", "Gemm"],
                extra_options={"MatMulConstBOnly": True},  # weights only; attention's Q.K stays fp32
            )
        else:
            chatter = io.StringIO()  # the calibrator print()s progress; keep stdout for our callers
            with contextlib.redirect_stdout(chatter):
                quantize_static(
                    str(prepared),
                    str(dst),
                    _Batches(spec.image.input_name, calibration),
                    quant_format=QuantFormat.QDQ,
                    activation_type=QuantType.QUInt8,
                    weight_type=QuantType.QInt8,
                    per_channel=True,
                    calibrate_method=CalibrationMethod.Entropy,  # beat MinMax, Percentile on lite0
                )
            log.debug("calibration: %s", chatter.getvalue())
    image = dataclasses.replace(spec.image, file_int8=dst.name)
    dataclasses.replace(spec, image=image).save(model_dir)
    return dst


def calibration_batches(
    images: Sequence[Path], tower: ImageTower, *, batch_size: int = 16, max_pixels: int = 200_000_000
) -> list[np.ndarray]:
    """Decode and preprocess calibration images exactly as at search time, in batches.

    Unreadable files are skipped (a calibration set is a sample); none readable is an error.
    """
    preprocess = Preprocessor(tower)
    pixels = []
    for path in images:
        try:
            pixels.append(
                preprocess(open_image(path, max_pixels=max_pixels, draft_size=preprocess.draft_size()))
            )
        except ImageReadError as exc:
            log.warning("calibration: skipping %s", exc)
    if not pixels:
        raise ModelFileError(f"{tower.file}: no readable calibration images among {len(images)} given")
    return [np.stack(pixels[i : i + batch_size]) for i in range(0, len(pixels), batch_size)]


class _Batches(CalibrationDataReader):
    """Feeds calibration images to the quantiser one at a time (its histograms need equal shapes)."""

    def __init__(self, input_name: str, batches: Sequence[np.ndarray]) -> None:
        self._items: Iterator[dict[str, np.ndarray]] = (
            {input_name: np.ascontiguousarray(b[i : i + 1], dtype=np.float32)}
            for b in batches
            for i in range(len(b))
        )

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._items, None)
