"""`pixseek model finetune` (extra `[torch]`): contrastive fine-tuning of a CLIP model's two towers on a
collection's own images, exported as a new model folder with its own fingerprint.

Each image is paired with its caption: the first line of a `.txt` file beside it (Tux Paint ships one per
stamp, English first), else "a picture of {label}" with the label its first folder level. The loss is
CLIP's own symmetric image-text contrastive loss over each batch. The result is exported like any CLIP
checkpoint (`export_clip`), and its transformers weights are kept in `hf/` so it can be tuned again.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from pixseek.errors import ModelError
from pixseek.models.export.clip import (
    TOKENIZER_FILE,
    _load_model,
    _mean_std,
    _source_dir,
    _write_tokenizer,
    export_clip,
)
from pixseek.models.imageio import read_image
from pixseek.models.preprocess import Preprocessor
from pixseek.models.spec import MANIFEST_NAME, ImageTower, ModelSpec
from pixseek.models.tokenizer import ClipTokenizer
from pixseek.settings import DEFAULT_MAX_IMAGE_PIXELS
from pixseek.types import IMAGE_EXTENSIONS

HF_FOLDER = "hf"
Progress = Callable[[int, int, float], None]  # (step, steps, loss)


@dataclass(frozen=True)
class FinetuneReport:
    pairs: int
    captioned: int  # pairs whose caption came from a .txt file
    epochs: int
    steps: int
    first_loss: float
    last_loss: float
    seconds: float
    images_per_second: float
    device: str

    def to_dict(self) -> dict:
        return asdict(self)


def caption_pairs(folder: Path) -> list[tuple[Path, str, bool]]:
    """(image, caption, from a caption file) for every image under `folder`, sorted by path."""
    if not folder.is_dir():
        raise ModelError(f"{folder}: no such folder")
    pairs = []
    for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()):
        caption = _caption_file(path.with_suffix(".txt"))
        if caption is None:
            parts = path.relative_to(folder).parts
            label = parts[0] if len(parts) > 1 else folder.name
            pairs.append((path, f"a picture of {label.replace('_', ' ')}", False))
        else:
            pairs.append((path, caption, True))
    if len(pairs) < 2:
        raise ModelError(f"{folder}: fine-tuning needs at least two images")
    return pairs


def _caption_file(path: Path) -> str | None:
    try:
        first = path.read_text(encoding="utf-8", errors="replace").splitlines()[0].strip()
    except (OSError, IndexError):
        return None
    return first or None


def hf_source(source: str | Path) -> str | Path:
    """A pixseek model folder fine-tuned before keeps its weights in hf/; anything else is used as is."""
    folder = _source_dir(source)
    return (
        folder / HF_FOLDER
        if folder is not None and (folder / HF_FOLDER / "config.json").is_file()
        else source
    )


def finetune_clip(
    source: str | Path,
    folder: Path,
    out_dir: Path,
    *,
    name: str,
    epochs: int = 1,
    batch_size: int = 32,
    learning_rate: float = 1e-5,
    seed: int = 0,
    device: str | None = None,
    progress: Progress | None = None,
) -> FinetuneReport:
    """Fine-tune `source` (a transformers CLIP checkpoint, a hub id, or a model folder with hf/) on the
    images under `folder`, and export the result into `out_dir` as model `name`."""
    torch.manual_seed(seed)
    pairs = caption_pairs(folder)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    model_folder = _source_dir(source)
    spec = ModelSpec.load(model_folder) if model_folder and (model_folder / MANIFEST_NAME).is_file() else None
    checkpoint = hf_source(source)
    model = _load_model(checkpoint).to(device)
    config = model.config
    with tempfile.TemporaryDirectory() as tmp:
        if spec is not None and spec.text is not None:  # a model folder: its tokenizer, its preprocessing
            tokenizer_dir, tokenizer_file = model_folder, model_folder / spec.text.tokenizer  # type: ignore[operator]
            tower = spec.image
        else:
            _write_tokenizer(
                _source_dir(checkpoint),
                Path(tmp),
                hub_id=None if _source_dir(checkpoint) else str(checkpoint),
            )
            tokenizer_dir, tokenizer_file = Path(tmp), Path(tmp) / TOKENIZER_FILE
            size = int(config.vision_config.image_size)
            tower = ImageTower(file="image.onnx", size=size, **_mean_std(_source_dir(checkpoint)))
        tokenizer = ClipTokenizer.from_file(
            tokenizer_file, context_length=int(config.text_config.max_position_embeddings)
        )
        preprocess = Preprocessor(tower)
        order_rng = np.random.default_rng(seed)
        optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=0.1)
        steps = epochs * -(-len(pairs) // batch_size)
        losses: list[float] = []
        started = time.perf_counter()
        model.train()
        for _ in range(epochs):
            order = order_rng.permutation(len(pairs))
            for start in range(0, len(order), batch_size):
                batch = [pairs[i] for i in order[start : start + batch_size]]
                if len(batch) < 2:
                    continue
                pixels = np.stack(
                    [
                        preprocess(read_image(p, max_pixels=DEFAULT_MAX_IMAGE_PIXELS).image)
                        for p, _, _ in batch
                    ]
                )
                ids, mask = tokenizer.encode([caption for _, caption, _ in batch])
                out = model(
                    input_ids=torch.from_numpy(ids).long().to(device),
                    attention_mask=torch.from_numpy(mask).long().to(device),
                    pixel_values=torch.from_numpy(pixels).float().to(device),
                    return_loss=True,
                )
                optimizer.zero_grad()
                out.loss.backward()
                optimizer.step()
                losses.append(float(out.loss.detach()))
                if progress is not None:
                    progress(len(losses), steps, losses[-1])
        seconds = time.perf_counter() - started
        model.eval()
        model.to("cpu")
        export_clip(model, out_dir, name=name, tokenizer_dir=tokenizer_dir)
    model.save_pretrained(out_dir / HF_FOLDER)
    return FinetuneReport(
        pairs=len(pairs),
        captioned=sum(1 for _, _, from_file in pairs if from_file),
        epochs=epochs,
        steps=len(losses),
        first_loss=round(losses[0], 4) if losses else float("nan"),
        last_loss=round(losses[-1], 4) if losses else float("nan"),
        seconds=round(seconds, 2),
        images_per_second=round(epochs * len(pairs) / seconds, 2) if seconds > 0 else 0.0,
        device=device,
    )
