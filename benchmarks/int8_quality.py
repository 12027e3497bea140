"""How far the int8 image tower moves embeddings and search results, and how much faster it is.

    python benchmarks/int8_quality.py [--model efficientnet-lite0] [--images /usr/share/tuxpaint/stamps]
                                      [--calibration 64] [--threads 2]

The model folder is copied and its image tower quantised afresh (static QDQ calibrated on
`--calibration` images for CNNs, dynamic for CLIP). Calibration images are drawn from the image set and
left out of the evaluation. On the remaining images it reports the mean (and 1st percentile) cosine
between each image's fp32 and int8 embedding, and the mean top-10 overlap when every image queries the
others (fp32 queries on fp32 vectors against int8 queries on int8 vectors), plus fp32/int8 speed from
the embed benchmark. Prints JSON. Targets (issue 2): speed-up >= 2, mean cosine >= 0.99, overlap >= 0.9.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path

import numpy as np

from pixseek.models.bench import time_image_tower
from pixseek.models.embedder import OnnxEmbedder
from pixseek.models.export.quantize import calibration_batches, quantize_image_tower
from pixseek.models.registry import resolve_model
from pixseek.models.spec import ModelSpec
from pixseek.settings import Settings

STAMPS = Path("/usr/share/tuxpaint/stamps")
SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif"}  # Tux Paint's SVGs are skipped
K = 10


def top_k(vectors: np.ndarray, k: int) -> np.ndarray:
    """Each row's k nearest other rows by cosine (vectors are L2-normalised)."""
    sims = vectors @ vectors.T
    np.fill_diagonal(sims, -np.inf)
    return np.argsort(-sims, axis=1)[:, :k]


def overlap(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per query: the share of a's neighbours that b also returns."""
    return np.array([len(set(x) & set(y)) / a.shape[1] for x, y in zip(a, b, strict=True)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="efficientnet-lite0")
    parser.add_argument("--images", type=Path, default=STAMPS)
    parser.add_argument("--calibration", type=int, default=64)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    files = sorted(p for p in args.images.rglob("*") if p.suffix.lower() in SUFFIXES)
    order = np.random.default_rng(args.seed).permutation(len(files))
    calib_files = [files[i] for i in order[: args.calibration]]
    eval_files = [files[i] for i in sorted(order[args.calibration :])]

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "model"
        shutil.copytree(resolve_model(args.model, settings=Settings()), folder)
        spec = ModelSpec.load(folder)
        if spec.has_text:  # transformer: dynamic quantisation needs no calibration
            quantize_image_tower(folder, mode="dynamic")
        else:
            batches = calibration_batches(calib_files, spec.image)
            quantize_image_tower(folder, mode="static", calibration=batches)
        fp32 = OnnxEmbedder.from_folder(folder, threads=args.threads)
        int8 = OnnxEmbedder.from_folder(folder, threads=args.threads, int8=True)
        loader = fp32.image_loader()
        pixels = np.stack([loader(p).pixels for p in eval_files])
        a, b = fp32.embed_pixels(pixels), int8.embed_pixels(pixels)
        cosine = (a * b).sum(axis=1)
        shared = overlap(top_k(a, K), top_k(b, K))
        speed_fp32 = time_image_tower(fp32, repeats=10, warmup=2)
        speed_int8 = time_image_tower(int8, repeats=10, warmup=2)

    print(
        json.dumps(
            {
                "model": spec.name,
                "images": len(eval_files),
                "calibration_images": 0 if spec.has_text else len(calib_files),
                "mean_cosine": round(float(cosine.mean()), 5),
                "p01_cosine": round(float(np.percentile(cosine, 1)), 5),
                f"top{K}_overlap": round(float(shared.mean()), 4),
                "fp32": asdict(speed_fp32),
                "int8": asdict(speed_int8),
                "speedup_batch32": round(speed_int8.batch32_img_per_s / speed_fp32.batch32_img_per_s, 2),
                "threads": args.threads,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
