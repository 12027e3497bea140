"""The short model names pixseek knows and where each one comes from (data only, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pixseek.models.spec import CLIP_MEAN, CLIP_STD, ImageTower, ModelSpec, TextTower

Source = Literal["hub", "bundled", "export"]


@dataclass(frozen=True, slots=True)
class HubFiles:
    """An ONNX export on the Hugging Face Hub: the repo, a revision and which file is which."""

    repo_id: str
    revision: str
    image: str
    text: str | None
    tokenizer: str | None
    image_int8: str | None = None  # optional: downloaded when present, skipped when not


@dataclass(frozen=True, slots=True)
class KnownModel:
    """One registry entry. `spec` is the manifest written for hub models (file names are local)."""

    name: str
    description: str
    source: Source
    spec: ModelSpec | None = None
    hub: HubFiles | None = None
    how_to_get: str = ""  # for `export` entries: the commands that make the model folder


def _clip_b32_spec(name: str, description: str) -> ModelSpec:
    """OpenAI-style CLIP ViT-B/32: 224 px, shortest side bicubic + center crop, CLIP mean/std, 77 tokens."""
    return ModelSpec(
        name=name,
        dim=512,
        image=ImageTower(
            file="image.onnx",
            size=224,
            resize="shortest",
            crop="center",
            interpolation="bicubic",
            mean=CLIP_MEAN,
            std=CLIP_STD,
            input_name="pixel_values",
            output_name="image_embeds",
            file_int8="image.int8.onnx",
        ),
        text=TextTower(
            file="text.onnx",
            tokenizer="tokenizer.json",
            context_length=77,
            input_ids_name="input_ids",
            attention_mask_name="attention_mask",  # fed only when the graph declares it
            output_name="text_embeds",
        ),
        description=description,
    )


# Xenova's transformers.js export of openai/clip-vit-base-patch32 (made with Optimum): separate
# vision/text graphs with a symbolic batch axis, outputs `image_embeds`/`text_embeds` (projected, not
# normalised), and the model's own tokenizer.json. Immich's exports are fixed at batch 1, so not those.
# The graphs are checked on load (tensor names, embedding width); the revision is the branch until a
# commit is verified against the graphs on a connected machine.
CLIP_VIT_B32 = KnownModel(
    name="clip-vit-b32",
    description="OpenAI CLIP ViT-B/32 (ONNX export of openai/clip-vit-base-patch32), image + text, 512-d",
    source="hub",
    spec=_clip_b32_spec("clip-vit-b32", "OpenAI CLIP ViT-B/32 via Xenova/clip-vit-base-patch32 (ONNX)"),
    hub=HubFiles(
        repo_id="Xenova/clip-vit-base-patch32",
        revision="main",
        image="onnx/vision_model.onnx",
        text="onnx/text_model.onnx",
        tokenizer="tokenizer.json",
        image_int8="onnx/vision_model_quantized.onnx",
    ),
)

# No published ONNX export with a dynamic batch and separate towers was found for the LAION-2B weights
# (the ones on the Hub are either fixed at batch 1 or single graphs), so this one is exported locally.
CLIP_VIT_B32_LAION2B = KnownModel(
    name="clip-vit-b32-laion2b",
    description="CLIP ViT-B/32 trained on LAION-2B (s34B b79K): better zero-shot accuracy, same cost, 512-d",
    source="export",
    how_to_get=(
        'pip install "pixseek[torch]" && pixseek model export laion/CLIP-ViT-B-32-laion2B-s34B-b79K '
        "--name clip-vit-b32-laion2b  (on a machine that can reach the Hugging Face Hub)"
    ),
)

EFFICIENTNET_LITE0 = KnownModel(
    name="efficientnet-lite0",
    description="EfficientNet-Lite0 (ImageNet), bundled offline model, image only, 1280-d",
    source="bundled",
)
EFFICIENTNET_LITE2 = KnownModel(
    name="efficientnet-lite2",
    description="EfficientNet-Lite2 (ImageNet, 260 px), bundled offline model, image only, 1280-d",
    source="bundled",
)

KNOWN_MODELS: dict[str, KnownModel] = {
    m.name: m for m in (CLIP_VIT_B32, CLIP_VIT_B32_LAION2B, EFFICIENTNET_LITE0, EFFICIENTNET_LITE2)
}
