"""GPU check for the torch backend: ViT-B/32 throughput on CUDA and parity with the ONNX CPU path.

Run on a CUDA machine:  python benchmarks/gpu_embed.py --json OUT.json
Check it where no GPU is (the parity step only, fp32):  python benchmarks/gpu_embed.py --device cpu
A random-weight ViT-B/32 has exactly the real model's compute cost, so its speed is the real model's speed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch
from transformers import CLIPConfig, CLIPModel

from pixseek.models.embedder import OnnxEmbedder
from pixseek.models.torch_embedder import TorchClipEmbedder
from pixseek.types import IMAGE_EXTENSIONS

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures"
FIXTURE = FIXTURES / "tiny-clip"


def _timeit(fn, *, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return times


def speed(batch: int, repeats: int) -> dict:
    """Image and text tower speed of a random ViT-B/32 (OpenAI config) in fp16 on CUDA."""
    torch.manual_seed(0)
    model = CLIPModel(CLIPConfig(projection_dim=512))  # defaults = openai/clip-vit-base-patch32 shapes
    emb = TorchClipEmbedder(
        model, _spec(), tokenizer=_tokenizer(), device="cuda", half=True, batch_size=batch
    )
    pixels = np.random.default_rng(0).standard_normal((batch, 3, 224, 224)).astype(np.float32)
    for _ in range(3):
        emb.embed_pixels(pixels)
    big = _timeit(lambda: emb.embed_pixels(pixels), repeats=repeats)
    one = _timeit(lambda: emb.embed_pixels(pixels[:1]), repeats=repeats * 5)
    text = _timeit(lambda: emb.embed_texts(["a photo of a dog on the beach"]), repeats=repeats * 5)
    return {
        "device": torch.cuda.get_device_name(0),
        "dtype": "float16",
        f"batch{batch}_img_per_s": batch / statistics.median(big),
        "batch1_ms": 1000 * statistics.median(one),
        "text_batch1_ms": 1000 * statistics.median(text),
    }


def pipeline(images: list[Path], workers: int) -> dict:
    """Decode + preprocess in worker processes feeding the GPU: the indexing hot path without the catalog."""
    model = CLIPModel(CLIPConfig(projection_dim=512))
    emb = TorchClipEmbedder(model, _spec(), tokenizer=None, device="cuda", half=True, batch_size=256)
    loader = emb.image_loader()
    emb.embed_pixels(np.zeros((8, 3, 224, 224), np.float32))
    t0 = time.perf_counter()
    with ProcessPoolExecutor(workers) as pool:
        batch: list[np.ndarray] = []
        for loaded in pool.map(loader, images, chunksize=16):
            batch.append(loaded.pixels)
            if len(batch) == 256:
                emb.embed_pixels(np.stack(batch))
                batch = []
        if batch:
            emb.embed_pixels(np.stack(batch))
    torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    return {"images": len(images), "workers": workers, "img_per_s": len(images) / seconds}


def _one_photo(args: tuple[Path, Path, int]) -> Path:
    src, out_dir, i = args
    from PIL import Image, ImageOps

    with Image.open(src) as im:
        rgb = im.convert("RGB").resize((1632, 1224))
    box = (i % 32, (i // 32) % 24, 1600 + i % 32, 1200 + (i // 32) % 24)
    photo = rgb.crop(box)
    if i % 2:
        photo = ImageOps.mirror(photo)
    path = out_dir / f"photo_{i:05d}.jpg"
    photo.save(path, quality=90)
    return path


def photo_folder(n: int, out_dir: Path) -> list[Path]:
    """n distinct ~2 MP JPEGs cut from the fixture photo: photo-sized decode work for the pipeline run."""
    out_dir.mkdir(parents=True, exist_ok=True)
    src = Path("tests/fixtures/images/photo.jpg")
    with ProcessPoolExecutor(os.cpu_count()) as pool:
        return list(pool.map(_one_photo, [(src, out_dir, i) for i in range(n)], chunksize=32))


def parity(device: str = "cuda") -> dict:
    """The tiny fixture through torch on `device` (fp32, and fp16 on CUDA) against ONNX Runtime on the CPU."""
    onnx = OnnxEmbedder.from_folder(FIXTURE)
    fixtures = sorted((FIXTURES / "images").glob("*"))
    images = [p for p in fixtures if p.suffix.lower() in IMAGE_EXTENSIONS][:16]  # not the folder's README
    texts = ["a cat", "", "a photo of a dog on the beach", "ünïcödé ☃ text " * 10]
    ref_i, ref_t = onnx.embed_images(images), onnx.embed_texts(texts)
    out = {"n_images": len(images)}
    for half in (False, True) if device == "cuda" else (False,):
        gpu = TorchClipEmbedder.from_pretrained(FIXTURE / "hf", folder=FIXTURE, device=device, half=half)
        cos_i = np.sum(gpu.embed_images(images) * ref_i, axis=1)
        cos_t = np.sum(gpu.embed_texts(texts) * ref_t, axis=1)
        key = "fp16" if half else "fp32"
        out[f"{key}_image_cosine_min"] = float(cos_i.min())
        out[f"{key}_text_cosine_min"] = float(cos_t.min())
    return out


def _spec():
    from pixseek.models.spec import ImageTower, ModelSpec

    return ModelSpec(name="clip-vit-b32-random", dim=512, image=ImageTower(file="none"))


def _tokenizer():
    from pixseek.models.tokenizer import ClipTokenizer

    return ClipTokenizer.from_file(FIXTURE / "tokenizer.json", context_length=77)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--photos", type=int, default=0, help="make this many 2 MP JPEGs for a pipeline run")
    parser.add_argument(
        "--device", choices=("cuda", "cpu"), default="cuda",
        help="cpu: only the parity step, to check the script where no GPU is",
    )  # fmt: skip
    args = parser.parse_args()
    report: dict = {"torch": torch.__version__}
    report["parity"] = parity(args.device)
    if args.device == "cpu":
        _write(report, args.json)
        return
    report["speed"] = {str(b): speed(b, repeats=20) for b in (32, 256)}
    if args.photos:
        files = photo_folder(args.photos, Path("/tmp/pixseek-photos"))
        report["pipeline"] = pipeline(files, workers=os.cpu_count() or 1)
    _write(report, args.json)


def _write(report: dict, path: Path | None) -> None:
    text = json.dumps(report, indent=2)
    print(text)
    if path:
        path.write_text(text)


if __name__ == "__main__":
    main()
