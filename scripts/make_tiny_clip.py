"""Build tests/fixtures/tiny-clip: a seeded, tiny random CLIP exported to the pixseek model format.

The folder holds the ONNX towers, CLIP's real tokenizer and the manifest, plus `hf/` (config and fp16
safetensors) so the parity tests can compare ONNX Runtime with the transformers model. Image size 224
and patch 32 keep CLIP's real preprocessing; the text vocabulary is CLIP's full 49,408 tokens.

    python scripts/make_tiny_clip.py [--out tests/fixtures/tiny-clip]
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import torch
from transformers import CLIPConfig, CLIPModel

from pixseek.models.export.clip import export_clip

REPO = Path(__file__).resolve().parents[1]
SEED = 20260611


def tiny_clip() -> CLIPModel:
    """A deterministic tiny CLIPModel whose weights survive an fp16 round trip exactly."""
    torch.manual_seed(SEED)
    config = CLIPConfig(
        text_config={
            "hidden_size": 16,
            "intermediate_size": 32,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "max_position_embeddings": 77,
            "vocab_size": 49408,
        },
        vision_config={
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "image_size": 224,
            "patch_size": 32,
        },
        projection_dim=24,
    )
    model = CLIPModel(config).eval()
    with torch.no_grad():
        for param in model.parameters():
            param.copy_(param.half().float())  # so the fp16 checkpoint is the exact model
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "tests" / "fixtures" / "tiny-clip")
    args = parser.parse_args()
    out: Path = args.out
    if out.exists():
        shutil.rmtree(out)
    model = tiny_clip()
    export_clip(model, out, name="tiny-clip", int8=True)  # tokenizer: the bundled CLIP BPE
    model.half().save_pretrained(out / "hf")
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"wrote {out} ({total / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
