"""Fine-tuning on a GPU (issue 14), as one prepared run: a random-weight ViT-B/32 (the real one's compute
cost; no CLIP weights exist offline) tuned on Tux Paint's captioned stamps, with training throughput and
caption->image recall@10 among held-out stamps before and after.

    python benchmarks/gpu_finetune.py --epochs 5 --batch-size 256 --out /tmp/ft.json

Needs torch with CUDA, transformers, tokenizers and pixseek's core dependencies. With random weights the
"before" recall is chance; "after" shows what tuning on 80% of the stamps gives on the other 20%.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import torch
from transformers import CLIPModel

from pixseek.models.export.clip import random_vit_b32
from pixseek.models.export.finetune import HF_FOLDER, caption_pairs, finetune_clip, hf_source
from pixseek.models.imageio import read_image
from pixseek.models.preprocess import Preprocessor
from pixseek.models.spec import ModelSpec
from pixseek.models.tokenizer import ClipTokenizer

STAMPS = Path("/usr/share/tuxpaint/stamps")


def _tensor(features: object) -> torch.Tensor:
    """transformers 5 returns a ModelOutput whose pooler_output is the projected embedding."""
    return features if isinstance(features, torch.Tensor) else features.pooler_output  # type: ignore[attr-defined]


def recall_at_10(model: CLIPModel, spec: ModelSpec, folder: Path, pairs: list, device: str) -> float:
    """Each held-out caption as a query among the held-out images: is its own image in the top 10?"""
    assert spec.text is not None
    tokenizer = ClipTokenizer.from_file(folder / spec.text.tokenizer, context_length=spec.text.context_length)
    preprocess = Preprocessor(spec.image)
    images, texts = [], []
    with torch.no_grad():
        for start in range(0, len(pairs), 64):
            chunk = pairs[start : start + 64]
            pixels = np.stack([preprocess(read_image(p, max_pixels=200_000_000).image) for p, _, _ in chunk])
            ids, mask = tokenizer.encode([c for _, c, _ in chunk])
            images.append(_tensor(model.get_image_features(pixel_values=torch.from_numpy(pixels).to(device))))
            tokens = {
                "input_ids": torch.from_numpy(ids).long(),
                "attention_mask": torch.from_numpy(mask).long(),
            }
            texts.append(_tensor(model.get_text_features(**{k: v.to(device) for k, v in tokens.items()})))
    img = torch.nn.functional.normalize(torch.cat(images), dim=1)
    txt = torch.nn.functional.normalize(torch.cat(texts), dim=1)
    top = (txt @ img.T).topk(10, dim=1).indices.cpu().numpy()
    return float(np.mean([i in row for i, row in enumerate(top)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--out", type=Path, default=Path("gpu_finetune.json"))
    parser.add_argument("--source", help="a CLIP checkpoint or model folder [default: random ViT-B/32]")
    args = parser.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    pairs = [p for p in caption_pairs(STAMPS) if p[2]]  # captioned stamps only
    order = np.random.default_rng(0).permutation(len(pairs))
    held_out = [pairs[i] for i in order[: len(pairs) // 5]]
    train = [pairs[i] for i in order[len(pairs) // 5 :]]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for path, _, _ in train:  # the training fifths as a folder of links, captions beside
            link = root / "train" / path.relative_to(STAMPS)
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(path)
            link.with_suffix(".txt").symlink_to(path.with_suffix(".txt"))
        if args.source:
            checkpoint = Path(hf_source(args.source))
        else:
            checkpoint = root / "ckpt"
            random_vit_b32().save_pretrained(checkpoint)
        report = finetune_clip(
            args.source or checkpoint, root / "train", root / "tuned", name="tuned", epochs=args.epochs,
            batch_size=args.batch_size, learning_rate=args.lr, device=device,
        )  # fmt: skip
        spec = ModelSpec.load(root / "tuned")
        before = CLIPModel.from_pretrained(str(checkpoint)).to(device).eval()
        after = CLIPModel.from_pretrained(str(root / "tuned" / HF_FOLDER)).to(device).eval()
        result = {
            "device": torch.cuda.get_device_name() if device == "cuda" else "cpu",
            "train_pairs": len(train),
            "held_out": len(held_out),
            "finetune": report.to_dict(),
            "held_out_recall_at_10": {
                "before": recall_at_10(before, spec, root / "tuned", held_out, device),
                "after": recall_at_10(after, spec, root / "tuned", held_out, device),
                "chance": round(10 / len(held_out), 4),
            },
        }
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
