"""Indexing benchmarks: unchanged re-index time, and end-to-end vs model-only throughput.

    python benchmarks/index_bench.py make-folder /tmp/stamps10k --n 10000   # real-ish images from Tux Paint
    python benchmarks/index_bench.py make-folder /tmp/photos --n 200 --photo  # ~2 MP JPEGs
    python benchmarks/index_bench.py reindex /tmp/stamps10k [--model M]     # time an unchanged re-run
    python benchmarks/index_bench.py throughput /tmp/photos --model random-vit-b32 [--workers 0]

Without --model the fake test model is used (decoding and catalog cost only); `random-vit-b32` is a
CLIP ViT-B/32 with random weights exported with pixseek's exporter (the real model's compute cost).
Each command prints JSON.
"""

from __future__ import annotations

import argparse
import json
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


def _random_vit_b32() -> Path:
    """A CLIP ViT-B/32 with random weights in pixseek's model format: the real model's compute cost."""
    folder = Path(tempfile.gettempdir()) / "pixseek-random-vit-b32"
    if not (folder / "pixseek-model.json").is_file():
        from transformers import CLIPConfig, CLIPModel

        from pixseek.models.export.clip import export_clip

        tokenizer = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "tiny-clip"
        export_clip(CLIPModel(CLIPConfig()), folder, name="random-vit-b32", tokenizer_dir=tokenizer)
    return folder


def _embedder(model: str | None):
    """None: the fake test model; random-vit-b32: exported once (needs [torch]); else a folder or name."""
    if model is None:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from tests.fakes import FakeEmbedder

        return FakeEmbedder(dim=512)
    if model == "random-vit-b32":
        model = str(_random_vit_b32())
    if Path(model).is_dir():
        from pixseek.models.embedder import OnnxEmbedder

        return OnnxEmbedder.from_folder(model)
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
            cli = [sys.executable, "-c", "from pixseek.cli import main; main()"]
            cmd = [*cli, "index", str(folder), "--db", str(db), "--json"]
            t0 = time.perf_counter()
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if done.returncode:
                raise RuntimeError(done.stderr)
            out["cli_unchanged_rerun_seconds"] = time.perf_counter() - t0
        return out


def throughput(folder: Path, model: str | None, workers: int, batch_size: int) -> dict:
    """End to end (scan, hash, decode, embed, commit) vs the model alone on the same, pre-decoded images.

    Model-only is timed before and after the end-to-end run and averaged, so load from other
    processes on a shared machine skews both sides alike.
    """
    embedder = _embedder(model)
    paths = sorted(p for p in folder.rglob("*") if p.is_file())
    loader = embedder.image_loader()
    pixels = np.stack([loader(p).pixels for p in paths])  # decoded up front: not timed
    embedder.embed_pixels(pixels[:batch_size])  # warm-up

    def model_only() -> float:
        t0 = time.perf_counter()
        for start in range(0, len(pixels), batch_size):
            embedder.embed_pixels(pixels[start : start + batch_size])
        return len(pixels) / (time.perf_counter() - t0)

    before = model_only()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        index = Index(Path(tmp) / "db", embedder=embedder)
        report = index.add(folder, workers=workers, batch_size=batch_size)
        end_to_end = report.added / (time.perf_counter() - t0)
    after = model_only()
    return {
        "model": embedder.name,
        "images": len(paths),
        "workers": workers,
        "batch_size": batch_size,
        "model_only_img_per_s": [before, after],
        "end_to_end_img_per_s": end_to_end,
        "ratio": end_to_end / ((before + after) / 2),
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
