"""A transformers CLIP checkpoint -> a pixseek model folder (image.onnx, text.onnx, tokenizer.json, manifest).

Needs the [torch] extra. Both towers are exported with the TorchScript exporter (`dynamo=False`) and a
dynamic batch axis, which is checked in the written graph: several published CLIP exports are pinned to
batch 1.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from transformers import CLIPConfig, CLIPModel, CLIPTokenizer

from pixseek.errors import ModelError, ModelFileError
from pixseek.models.export.graph import assert_dynamic_batch, export_module
from pixseek.models.export.tokenizer_files import BPE_FILE_NAME, BUNDLED_BPE, write_tokenizer_json
from pixseek.models.spec import CLIP_MEAN, CLIP_STD, ImageTower, ModelSpec, TextTower

IMAGE_FILE = "image.onnx"
TEXT_FILE = "text.onnx"
TOKENIZER_FILE = "tokenizer.json"
RANDOM_VIT_B32 = "clip-vit-b32-random"


def export_clip(
    source: str | Path | CLIPModel,
    out_dir: Path,
    *,
    name: str,
    tokenizer_dir: Path | None = None,
    int8: bool = False,
    opset: int = 17,
) -> ModelSpec:
    """Export a CLIP model (an in-memory CLIPModel, a checkpoint folder, or a hub id) into out_dir.

    The tokenizer comes from tokenizer_dir, else from the checkpoint folder or hub id; either may hold a
    `tokenizer.json`, `vocab.json` + `merges.txt`, or OpenAI's `bpe_simple_vocab_16e6.txt.gz`. Without
    any of these, CLIP's own BPE vocabulary (bundled) is used.
    """
    model = _load_model(source)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tok_source = tokenizer_dir if tokenizer_dir is not None else _source_dir(source)
    _write_tokenizer(tok_source, out_dir, hub_id=_hub_id(source))

    vcfg, tcfg = model.config.vision_config, model.config.text_config
    context_length = int(tcfg.max_position_embeddings)
    pixels = torch.zeros(2, 3, vcfg.image_size, vcfg.image_size)
    ids = torch.zeros(2, context_length, dtype=torch.long)
    ids[:, 0], ids[:, 1] = 49406, 49407  # start, end: a realistic empty prompt
    mask = torch.zeros_like(ids)
    mask[:, :2] = 1
    export_module(
        _ImageFeatures(model),
        (pixels,),
        out_dir / IMAGE_FILE,
        input_names=["pixel_values"],
        output_names=["image_embeds"],
        opset=opset,
    )
    export_module(
        _TextFeatures(model),
        (ids, mask),
        out_dir / TEXT_FILE,
        input_names=["input_ids", "attention_mask"],
        output_names=["text_embeds"],
        sequence_inputs=["input_ids", "attention_mask"],  # a short query need not run 77 positions
        opset=opset,
    )
    for file in (IMAGE_FILE, TEXT_FILE):
        assert_dynamic_batch(out_dir / file)

    spec = ModelSpec(
        name=name,
        dim=int(model.config.projection_dim),
        image=ImageTower(
            file=IMAGE_FILE,
            size=int(vcfg.image_size),
            resize="shortest",
            crop="center",
            interpolation="bicubic",
            **_mean_std(_source_dir(source)),
        ),
        text=TextTower(file=TEXT_FILE, tokenizer=TOKENIZER_FILE, context_length=context_length),
        description=f"CLIP exported from {_describe(source)} (vision {vcfg.hidden_size}x"
        f"{vcfg.num_hidden_layers}, patch {vcfg.patch_size}, "
        f"text {tcfg.hidden_size}x{tcfg.num_hidden_layers})",
    )
    spec.save(out_dir)
    if int8:
        from pixseek.models.export.quantize import quantize_image_tower

        quantize_image_tower(out_dir)
        spec = ModelSpec.load(out_dir)
    return spec


def clip_vit_b32_config() -> CLIPConfig:
    """openai/clip-vit-base-patch32's architecture, written out so that no hub is needed."""
    return CLIPConfig(
        text_config={
            "vocab_size": 49408,
            "hidden_size": 512,
            "intermediate_size": 2048,
            "num_hidden_layers": 12,
            "num_attention_heads": 8,
            "max_position_embeddings": 77,
            "hidden_act": "quick_gelu",
        },
        vision_config={
            "hidden_size": 768,
            "intermediate_size": 3072,
            "num_hidden_layers": 12,
            "num_attention_heads": 12,
            "image_size": 224,
            "patch_size": 32,
            "hidden_act": "quick_gelu",
        },
        projection_dim=512,
    )


def random_vit_b32(*, seed: int = 0) -> CLIPModel:
    """A seeded, randomly initialised ViT-B/32: exactly the real model's compute cost."""
    torch.manual_seed(seed)
    return CLIPModel(clip_vit_b32_config()).eval()


def export_random_vit_b32(out_dir: Path, *, seed: int = 0, int8: bool = True) -> ModelSpec:
    """Export `random_vit_b32(seed)` (with an int8 image tower), the stand-in for speed benchmarks."""
    return export_clip(random_vit_b32(seed=seed), out_dir, name=RANDOM_VIT_B32, int8=int8)


def _load_model(source: str | Path | CLIPModel) -> CLIPModel:
    """The model in eval mode with plain (eager) attention, which traces to a graph ORT fuses well."""
    if isinstance(source, CLIPModel):
        model = source
    else:
        try:
            model = CLIPModel.from_pretrained(str(source), dtype=torch.float32)  # CPU runs fp32
        except (OSError, ValueError) as exc:
            raise ModelError(f"cannot load a transformers CLIP checkpoint from {source!r}: {exc}") from exc
    model.set_attn_implementation("eager")
    return model.float().eval()


def _mean_std(folder: Path | None) -> dict[str, tuple[float, float, float]]:
    """The checkpoint's own normalisation when it ships a preprocessor_config.json, else CLIP's."""
    config = folder / "preprocessor_config.json" if folder is not None else None
    if config is None or not config.is_file():
        return {"mean": CLIP_MEAN, "std": CLIP_STD}
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
        return {"mean": tuple(map(float, data["image_mean"])), "std": tuple(map(float, data["image_std"]))}
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelFileError(f"{config}: unreadable image_mean/image_std ({exc})") from exc


def _source_dir(source: object) -> Path | None:
    return Path(source) if isinstance(source, (str, Path)) and Path(source).is_dir() else None


def _hub_id(source: object) -> str | None:
    return str(source) if isinstance(source, str) and not Path(source).exists() else None


def _describe(source: object) -> str:
    return str(source) if isinstance(source, (str, Path)) else "an in-memory CLIPModel"


def _write_tokenizer(folder: Path | None, out_dir: Path, *, hub_id: str | None) -> None:
    """Normalise whatever tokenizer files the source has into one `tokenizer.json`."""
    if folder is not None and (folder / BPE_FILE_NAME).is_file():
        write_tokenizer_json(folder / BPE_FILE_NAME, out_dir)
        return
    has_hf_files = folder is not None and (
        (folder / TOKENIZER_FILE).is_file() or (folder / "vocab.json").is_file()
    )
    if not has_hf_files and hub_id is None:
        write_tokenizer_json(BUNDLED_BPE, out_dir)
        return
    try:
        tok = CLIPTokenizer.from_pretrained(str(folder) if has_hf_files else hub_id)
    except (OSError, ValueError) as exc:
        raise ModelFileError(f"cannot load the CLIP tokenizer from {folder or hub_id}: {exc}") from exc
    tok.backend_tokenizer.save(str(out_dir / TOKENIZER_FILE), pretty=False)


class _ImageFeatures(torch.nn.Module):
    """pixel_values -> projected image features (not normalised; the embedder normalises)."""

    def __init__(self, model: CLIPModel) -> None:
        super().__init__()
        self.clip = model

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.clip.get_image_features(pixel_values=pixel_values).pooler_output


class _TextFeatures(torch.nn.Module):
    """input_ids, attention_mask -> projected text features."""

    def __init__(self, model: CLIPModel) -> None:
        super().__init__()
        self.clip = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.clip.get_text_features(input_ids=input_ids, attention_mask=attention_mask).pooler_output
