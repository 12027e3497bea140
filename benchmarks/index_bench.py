"""Indexing benchmarks: unchanged re-index time, and end-to-end vs model-only throughput.

    python benchmarks/index_bench.py make-folder /tmp/stamps10k --n 10000   # real-ish images from Tux Paint
    python benchmarks/index_bench.py make-folder /tmp/photos --n 200 --photo  # ~2 MP JPEGs
    python benchmarks/index_bench.py reindex /tmp/stamps10k [--model M]     # time an unchanged re-run
    python benchmarks/index_bench.py throughput /tmp/photos --model M [--workers 2]

Without --model the fake test model is used (decoding and catalog cost only); each prints JSON.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from pixseek.services import Index
from pixseek.settings import Settings

STAMPS = Path("/usr/share/tuxpaint/stamps")
PHOTO_SIZE = (1632, 1224)  # 2.0 MP


def make_folder(out: Path, n: int, *, photo: bool) -> dict:
    """n distinct images: stamps resaved small (PNG) or pasted on a noisy 2 MP canvas (JPEG)."""
    stamps = sorted(STAMPS.rglob("*.png"))
    rng = np.random.default_rng(0)
    started = time.perf_counter()
    for i in range(n):
        src = stamps[i % len(stamps)]
        label = src.relative_to(STAMPS).parts[0]
        with Image.open(src) as im:
            rgba = im.convert("RGBA")
        if photo:
            canvas = Image.fromarray(rng.integers(0, 256, (*PHOTO_SIZE[::-1], 3), dtype=np.uint8))
            canvas.paste(
                rgba.resize((PHOTO_SIZE[1], PHOTO_SIZE[1])), (i % 300, 0), rgba.resize((PHOTO_SIZE[1],) * 2)
            )
            dest = out / label / f"{i:05d}.jpg"
            dest.parent.mkdir(parents=True, exist_ok=True)
            canvas.save(dest, quality=90)
        else:
            small = rgba.copy()
            small.thumbnail((160, 160))
            small.putpixel((i % small.width, 0), (i % 256, (i // 256) % 256, 7, 255))  # distinct bytes
            dest = out / label / f"{i:05d}.png"
            dest.parent.mkdir(parents=True, exist_ok=True)
            small.save(dest)
    return {"folder": str(out), "images": n, "seconds": time.perf_counter() - started}


CLIP_MEAN = np.array([0.48145466, 0.4578275, 0.40821073], np.float32)[:, None, None]
CLIP_STD = np.array([0.26862954, 0.26130258, 0.27577711], np.float32)[:, None, None]


class ClipLikeLoader:
    """Picklable CLIP-style decode: draft JPEG, alpha onto white, shortest side 224 bicubic, crop, norm."""

    def __call__(self, path: Path):
        from PIL import ImageOps

        from pixseek.types import LoadedImage

        with Image.open(path) as src:
            src.draft("RGB", (224, 224))
            width, height = src.size
            rgba = ImageOps.exif_transpose(src.convert("RGBA"))
        rgb = Image.new("RGB", rgba.size, "white")
        rgb.paste(rgba, mask=rgba.getchannel("A"))
        scale = 224 / min(rgb.size)
        size = (max(224, round(rgb.width * scale)), max(224, round(rgb.height * scale)))
        rgb = rgb.resize(size, Image.Resampling.BICUBIC)
        left, top = (rgb.width - 224) // 2, (rgb.height - 224) // 2
        x = np.asarray(rgb.crop((left, top, left + 224, top + 224)), np.float32).transpose(2, 0, 1) / 255
        return LoadedImage(pixels=(x - CLIP_MEAN) / CLIP_STD, width=width, height=height)


class ProxyVitEmbedder:
    """Random-weight CLIP ViT-B/32 image tower on ONNX Runtime: the real model's compute cost.

    A stand-in for throughput runs before pixseek.models' OnnxEmbedder exists (--model proxy-vit).
    """

    name, dim, fingerprint, has_text = "proxy-vit-b32", 512, "proxy", False

    def __init__(self, onnx_path: Path) -> None:
        import onnxruntime as ort

        self._session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])

    @staticmethod
    def export(path: Path) -> Path:
        import torch
        from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

        if not path.is_file():
            cfg = CLIPVisionConfig(image_size=224, patch_size=32, projection_dim=512)  # ViT-B/32 defaults
            tower = CLIPVisionModelWithProjection(cfg).eval()

            class Tower(torch.nn.Module):
                def __init__(self) -> None:
                    super().__init__()
                    self.tower = tower

                def forward(self, x: torch.Tensor) -> torch.Tensor:
                    return self.tower(pixel_values=x).image_embeds

            axes = {"pixel_values": {0: "n"}, "image_embeds": {0: "n"}}
            torch.onnx.export(
                Tower(), (torch.randn(2, 3, 224, 224),), str(path), input_names=["pixel_values"],
                output_names=["image_embeds"], dynamic_axes=axes,
                opset_version=17, dynamo=False,
            )  # fmt: skip
        return path

    def image_loader(self) -> ClipLikeLoader:
        return ClipLikeLoader()

    def embed_pixels(self, pixels: np.ndarray) -> np.ndarray:
        out = self._session.run(None, {"pixel_values": pixels.astype(np.float32)})[0]
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    def embed_images(self, images, *, batch_size=None) -> np.ndarray:
        return self.embed_pixels(np.stack([ClipLikeLoader()(Path(p)).pixels for p in images]))

    def embed_texts(self, texts) -> np.ndarray:
        raise NotImplementedError


def _embedder(model: str | None):
    if model == "proxy-vit":
        return ProxyVitEmbedder(
            ProxyVitEmbedder.export(Path(tempfile.gettempdir()) / "pixseek-proxy-vitb32.onnx")
        )
    if model is None:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from tests.fakes import FakeEmbedder

        return FakeEmbedder(dim=512)
    from pixseek.models.registry import load_embedder

    return load_embedder(model, settings=Settings())


def reindex(folder: Path, model: str | None, workers: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "db"
        index = Index(db, embedder=_embedder(model))
        first = index.add(folder, workers=workers)
        t0 = time.perf_counter()
        again = index.add(folder, workers=workers)
        in_process = time.perf_counter() - t0
        out = {
            "images": first.added,
            "first_run_seconds": first.seconds,
            "unchanged_rerun_seconds": in_process,
            "rerun_unchanged": again.unchanged,
        }
        if model is not None:  # the whole command, interpreter start-up and imports included
            cmd = [sys.executable, "-m", "pixseek.cli", "index", str(folder), "--db", str(db), "--json"]
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True)
            out["cli_unchanged_rerun_seconds"] = time.perf_counter() - t0
        return out


def throughput(folder: Path, model: str | None, workers: int, batch_size: int) -> dict:
    embedder = _embedder(model)
    paths = sorted(p for p in folder.rglob("*") if p.is_file())
    loader = embedder.image_loader()
    pixels = np.stack([loader(p).pixels for p in paths])  # decoded up front: not timed
    embedder.embed_pixels(pixels[:batch_size])  # warm-up
    t0 = time.perf_counter()
    for start in range(0, len(pixels), batch_size):
        embedder.embed_pixels(pixels[start : start + batch_size])
    model_only = len(pixels) / (time.perf_counter() - t0)
    del pixels
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        report = Index(Path(tmp) / "db", embedder=embedder).add(
            folder, workers=workers, batch_size=batch_size
        )
        end_to_end = report.added / (time.perf_counter() - t0)
        shutil.rmtree(tmp, ignore_errors=True)
    return {
        "model": embedder.name,
        "images": len(paths),
        "workers": workers,
        "batch_size": batch_size,
        "model_only_img_per_s": model_only,
        "end_to_end_img_per_s": end_to_end,
        "ratio": end_to_end / model_only,
        "failed": len(report.failed),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("what", choices=["make-folder", "reindex", "throughput"])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--photo", action="store_true")
    parser.add_argument("--model", default=None)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    if args.what == "make-folder":
        result = make_folder(args.folder, args.n, photo=args.photo)
    elif args.what == "reindex":
        result = reindex(args.folder, args.model, args.workers)
    else:
        result = throughput(args.folder, args.model, args.workers, args.batch_size)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
