"""How far JPEG draft decoding moves embeddings, and what it saves: draft vs full decode on real JPEGs.

For each JPEG, embed it twice with the same model: decoded in full, and decoded with draft mode (DCT
scaling to the smallest 1/2, 1/4 or 1/8 scale still >= the model's input size). Reports the mean and
minimum cosine between the two embeddings and the decode+preprocess time per image for both.

    python benchmarks/draft_vs_full.py --model efficientnet-lite0 --json
    python benchmarks/draft_vs_full.py --model tests/fixtures/tiny-clip /path/to/photos

Without folders it uses the JPEGs that ship with this machine's packages (Tux Paint, scikit-learn, ...).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from PIL import Image

from pixseek.models.embedder import OnnxEmbedder
from pixseek.models.imageio import read_image
from pixseek.models.registry import load_embedder
from pixseek.settings import Settings

DEFAULT_ROOTS = ("/usr/share", "/usr/lib/python3", "/root/.pyenv")


def find_jpegs(roots: list[Path], *, limit: int, min_side: int) -> list[Path]:
    """JPEGs big enough for draft mode to engage (shortest side >= 2 x the model input)."""
    found: list[Path] = []
    for root in roots:
        candidates = [root] if root.is_file() else sorted(root.rglob("*"))
        for path in candidates:
            if path.suffix.lower() not in {".jpg", ".jpeg"} or not path.is_file():
                continue
            try:
                with Image.open(path) as im:
                    if im.format == "JPEG" and min(im.size) >= min_side:
                        found.append(path)
            except OSError:
                continue
            if len(found) >= limit:
                return found
    return found


def measure(embedder: OnnxEmbedder, paths: list[Path]) -> dict[str, float | int | str]:
    pre = embedder.image_loader().preprocessor
    limit = embedder.image_loader().max_pixels
    full_px, draft_px, full_s, draft_s, scales = [], [], 0.0, 0.0, []
    for path in paths:
        start = time.perf_counter()
        full = read_image(path, max_pixels=limit)
        full_px.append(pre(full.image))
        middle = time.perf_counter()
        draft = read_image(path, max_pixels=limit, draft_size=pre.draft_size())
        draft_px.append(pre(draft.image))
        draft_s += time.perf_counter() - middle
        full_s += middle - start
        scales.append(full.image.width / draft.image.width)
    cosine = np.sum(
        embedder.embed_pixels(np.stack(full_px)) * embedder.embed_pixels(np.stack(draft_px)), axis=1
    )
    return {
        "model": embedder.name,
        "images": len(paths),
        "drafted": int(sum(s > 1 for s in scales)),
        "mean_scale_down": round(float(np.mean(scales)), 2),
        "mean_cosine": round(float(cosine.mean()), 5),
        "min_cosine": round(float(cosine.min()), 5),
        "full_decode_ms": round(1000 * full_s / len(paths), 2),
        "draft_decode_ms": round(1000 * draft_s / len(paths), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", type=Path, help="JPEG files or folders (default: system JPEGs)")
    parser.add_argument("--model", default="efficientnet-lite0", help="model name or folder")
    parser.add_argument("--limit", type=int, default=200)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    settings = Settings(threads=args.threads)
    embedder = load_embedder(args.model, settings=settings)
    roots = args.folders or [Path(r) for r in DEFAULT_ROOTS if Path(r).exists()]
    paths = find_jpegs(roots, limit=args.limit, min_side=2 * embedder.spec.image.size)
    if not paths:
        raise SystemExit("no JPEGs large enough for draft mode were found; pass folders of photos")
    result = measure(embedder, paths)
    print(json.dumps(result, indent=2) if args.json else "\n".join(f"{k}: {v}" for k, v in result.items()))


if __name__ == "__main__":
    main()
