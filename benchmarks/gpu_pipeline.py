"""End to end on one GPU: JPEG files on local disk -> decode -> preprocess -> fp16 ViT-B/32 embeddings.

On a CUDA machine (benchmarks/gpu_run.sh runs this as one command):
    python benchmarks/gpu_pipeline.py --json OUT.json
CPU smoke check (proves the script runs; its rates mean nothing):
    python benchmarks/gpu_pipeline.py --device cpu --n 16 --batch 8 --json /tmp/x.json

For each JPEG set (about 2 MP, 1920x1080, and 500x375; made here from the repo's fixture photo with
crops, flips, colour gains and grain, written to a temporary folder on local disk) it reports:
- model_img_per_s: the model alone on device-resident input;
- decode_img_per_s (and decode_preprocess_img_per_s): the decode path alone, no model;
- end_to_end_img_per_s: from file paths to L2-normalised embeddings back on the host.

Decode: where `torchvision.io.decode_jpeg` imports and the device is CUDA, batched nvJPEG on the GPU,
then resize, crop and normalise on the GPU (`tensor_preprocess`), in a thread and CUDA stream of its
own so decode overlaps the model. Elsewhere (or with --decode pil), pixseek's own loader (PIL with the
JPEG draft) in a process pool feeds the device through a prefetch queue. --decode pil-tensor runs the
nvJPEG path's code with PIL as the decoder, so a CPU-only machine can check that code too. torchvision
is imported only lazily and is never a dependency of pixseek.

The model is a random-weight ViT-B/32 (CLIPConfig(projection_dim=512)): the real model's compute, with
no model hub needed. pixseek is imported only for modules that need numpy and Pillow alone (not
pydantic), so the script runs from a bare checkout with PYTHONPATH=src on a machine with torch.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import queue
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 - torch's own convention
from PIL import Image, ImageOps

from pixseek.models.imageio import read_image
from pixseek.models.preprocess import Preprocessor, shortest_side_size
from pixseek.models.spec import ImageTower

REPO = Path(__file__).resolve().parents[1]
FIXTURE_PHOTO = REPO / "tests" / "fixtures" / "images" / "photo.jpg"
MAX_PIXELS = 200_000_000  # pixseek.settings.DEFAULT_MAX_IMAGE_PIXELS (that module needs pydantic-settings)
SETS: dict[str, tuple[int, int]] = {"2mp": (1920, 1080), "500x375": (500, 375)}
GOALS = {"2mp": 3000, "500x375": 8000}  # issue 10, img/s end to end on one GPU
# nvJPEG + torch resampling against pixseek's PIL path, as it is measured in "parity".
NVJPEG_DIFFERENCES = (
    "full-size decode, then (draft=True) a box average by the power of two that PIL's JPEG draft picks, "
    "where libjpeg-turbo scales in the DCT domain; nvJPEG's chroma upsampling, not libjpeg-turbo's; "
    "torch's antialiased resampling in float32 with one rounding to 0-255 (PIL's same a=-0.5 bicubic "
    "kernel rounds after each pass); no EXIF orientation; one bad file fails its whole batch"
)

Decoder = Callable[[Sequence[torch.Tensor]], list[torch.Tensor]]
Embed = Callable[[torch.Tensor], torch.Tensor]


# -- input images ---------------------------------------------------------------------------------------
def _make_one(args: tuple[Path, int, int, int]) -> int:
    """One distinct JPEG: a random crop of the fixture photo, flipped and tinted, resized, with grain."""
    path, width, height, seed = args
    rng = np.random.default_rng(seed)
    if FIXTURE_PHOTO.exists():
        with Image.open(FIXTURE_PHOTO) as src:
            base = src.convert("RGB")
        scale = rng.uniform(0.6, 1.0)
        cw, ch = int(base.width * scale), int(base.height * scale)
        left, top = int(rng.integers(0, base.width - cw + 1)), int(rng.integers(0, base.height - ch + 1))
        img = base.crop((left, top, left + cw, top + ch)).resize((width, height), Image.Resampling.BICUBIC)
        if seed % 2:
            img = ImageOps.mirror(img)
        pixels = np.asarray(img, dtype=np.float32) * rng.uniform(0.8, 1.2, size=3).astype(np.float32)
    else:  # gradients and blocks, if the fixture is missing
        y, x = np.mgrid[0:height, 0:width].astype(np.float32)
        phase = rng.uniform(0, 2 * np.pi, size=3)
        pixels = np.stack([127 + 100 * np.sin(x / (40 + 30 * c) + y / 90 + phase[c]) for c in range(3)], -1)
    grain = rng.normal(0, 4, size=pixels.shape).astype(np.float32)
    out = np.clip(pixels + grain, 0, 255).astype(np.uint8)
    Image.fromarray(out).save(path, quality=90)  # baseline JPEG, 4:2:0: what cameras and the web mostly hold
    return path.stat().st_size


def make_jpegs(folder: Path, name: str, size: tuple[int, int], count: int, workers: int) -> list[Path]:
    """`count` distinct JPEGs of `size` under folder/name; files already there are reused."""
    out = folder / name
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{name}_{i:05d}.jpg" for i in range(count)]
    todo = [(p, *size, i) for i, p in enumerate(paths) if not p.exists()]
    if todo:
        with ProcessPoolExecutor(max(1, workers)) as pool:
            list(pool.map(_make_one, todo, chunksize=8))
    return paths


# -- pixseek's CPU loader ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class PixseekLoader:
    """pixseek.models.embedder.ImageLoader's two steps (draft decode, then Preprocessor), picklable.

    Not imported from there: that module pulls in pixseek.settings, hence pydantic-settings, which the
    GPU machine's image lacks. `loader_matches_pixseek` checks the two agree where both import.
    """

    tower: ImageTower
    draft: bool = True

    def __call__(self, source: Path) -> np.ndarray:
        pre = Preprocessor(self.tower)
        decoded = read_image(
            source, max_pixels=MAX_PIXELS, draft_size=pre.draft_size() if self.draft else None
        )
        return pre(decoded.image)


def loader_matches_pixseek(tower: ImageTower, path: Path) -> bool | None:
    """True when PixseekLoader gives ImageLoader's pixels exactly; None where ImageLoader cannot import."""
    try:
        from pixseek.models.embedder import ImageLoader
    except ImportError:
        return None
    theirs = ImageLoader(Preprocessor(tower), MAX_PIXELS)(path).pixels
    return bool(np.array_equal(theirs, PixseekLoader(tower)(path)))


# -- GPU preprocessing --------------------------------------------------------------------------------------
_MODES = {"bicubic": ("bicubic", True), "bilinear": ("bilinear", True), "nearest": ("nearest-exact", False)}


def _center_crop(x: torch.Tensor, size: int) -> torch.Tensor:
    """pixseek.models.preprocess.center_crop on (..., H, W): zero padding where a side is short."""
    height, width = x.shape[-2:]
    top, left = (height - size) // 2, (width - size) // 2
    if top >= 0 and left >= 0:
        return x[..., top : top + size, left : left + size]
    new_h, new_w = max(size, height), max(size, width)
    pad_top, pad_left = -(-(new_h - height) // 2), -(-(new_w - width) // 2)
    canvas = x.new_zeros((*x.shape[:-2], new_h, new_w))
    canvas[..., pad_top : pad_top + height, pad_left : pad_left + width] = x
    top, left = top + pad_top, left + pad_left
    return canvas[..., max(0, top) : min(new_h, top + size), max(0, left) : min(new_w, left + size)]


def tensor_preprocess(
    images: Sequence[torch.Tensor],
    tower: ImageTower,
    *,
    dtype: torch.dtype = torch.float32,
    draft: bool = True,
) -> torch.Tensor:
    """uint8 (3, H, W) tensors on any device -> (N, 3, S, S) model input: pixseek's Preprocessor on torch.

    Same steps and sizes (shortest side or squash, truncating like transformers; centre crop with zero
    padding; rescale; normalise). With `draft`, a box reduce first stands in for the JPEG draft that
    pixseek's loader decodes with: closer to it, and far less resampling work on a 2 MP image. Images of
    one size are processed in one call. Differences: see NVJPEG_DIFFERENCES.
    """
    groups: dict[tuple[int, int], list[int]] = {}
    for i, image in enumerate(images):
        groups.setdefault((int(image.shape[-2]), int(image.shape[-1])), []).append(i)
    if len(groups) == 1:  # the usual case in a folder of one camera: no scatter
        return _preprocess_same_size(torch.stack(list(images)), tower, draft).to(dtype)
    size, device = tower.size, images[0].device
    out = torch.empty((len(images), 3, size, size), dtype=dtype, device=device)
    for index in groups.values():
        batch = _preprocess_same_size(torch.stack([images[i] for i in index]), tower, draft)
        out[torch.tensor(index, device=device)] = batch.to(dtype)
    return out


def draft_scale(width: int, height: int, size: int) -> int:
    """The JPEG draft's reduction for a (size, size) request: PIL's rule, the largest of 8, 4, 2, 1 that
    is at most min(width // size, height // size)."""
    limit = min(width // size, height // size)
    return next(scale for scale in (8, 4, 2, 1) if scale <= max(limit, 1))


def _preprocess_same_size(batch: torch.Tensor, tower: ImageTower, draft: bool) -> torch.Tensor:
    """(N, 3, H, W) uint8 -> (N, 3, S, S) float32, normalised."""
    size, device = tower.size, batch.device
    height, width = int(batch.shape[-2]), int(batch.shape[-1])
    x = batch.float()
    scale = draft_scale(width, height, size) if draft else 1
    if scale > 1:  # ceil sizes, as libjpeg's scaled decode; partial edge windows average what they hold
        x = F.avg_pool2d(x, scale, stride=scale, ceil_mode=True).round_()
        height, width = int(x.shape[-2]), int(x.shape[-1])
    tw, th = (size, size) if tower.resize == "squash" else shortest_side_size((width, height), size)
    if (th, tw) != (height, width):  # PIL returns a copy at the same size, so no resampling here either
        mode, antialias = _MODES[tower.interpolation]
        kwargs: dict[str, Any] = {"antialias": True, "align_corners": False} if antialias else {}
        x = F.interpolate(x, size=(th, tw), mode=mode, **kwargs).round_().clamp_(0, 255)
    if tower.crop == "center":
        x = _center_crop(x, size)
    mean = torch.tensor(tower.mean, dtype=torch.float32, device=device).view(1, 3, 1, 1)
    std = torch.tensor(tower.std, dtype=torch.float32, device=device).view(1, 3, 1, 1)
    return (x * (1 / 255) - mean) / std


# -- decoders ------------------------------------------------------------------------------------------------
def torchvision_decode_jpeg() -> tuple[Callable[..., Any] | None, str]:
    """(decode_jpeg, version) where torchvision imports, else (None, why not). Never a dependency."""
    try:
        import torchvision
        from torchvision.io import ImageReadMode, decode_jpeg
    except Exception as exc:  # absent, or built for another torch
        return None, f"torchvision not importable: {type(exc).__name__}: {exc}"
    return partial(decode_jpeg, mode=ImageReadMode.RGB), str(torchvision.__version__)


def nvjpeg_decoder(decode_jpeg: Callable[..., Any], device: torch.device) -> Decoder:
    """Batched nvJPEG (torchvision uses the A100/H100 hardware decoder for baseline JPEGs)."""
    return lambda data: list(decode_jpeg(list(data), device=device))


def torchvision_cpu_decoder(decode_jpeg: Callable[..., Any], device: torch.device) -> Decoder:
    return lambda data: [decode_jpeg(d).to(device) for d in data]


def pil_tensor_decoder(device: torch.device) -> Decoder:
    """Full-size PIL decode to (3, H, W) uint8: checks tensor_preprocess alone where torchvision is absent."""

    def decode(data: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        out = []
        for d in data:
            decoded = read_image(d.numpy().tobytes(), max_pixels=MAX_PIXELS)
            out.append(torch.from_numpy(np.array(decoded.image)).permute(2, 0, 1).contiguous().to(device))
        return out

    return decode


def read_bytes(path: Path) -> torch.Tensor:
    return torch.from_numpy(np.fromfile(path, dtype=np.uint8))


# -- parity --------------------------------------------------------------------------------------------------
def _agreement(a: np.ndarray, b: np.ndarray, tower: ImageTower) -> dict[str, float]:
    """Per-image cosine of the model inputs, and mean absolute difference in 0-255 levels."""
    fa, fb = a.reshape(len(a), -1).astype(np.float64), b.reshape(len(b), -1).astype(np.float64)
    cos = np.sum(fa * fb, 1) / np.maximum(np.linalg.norm(fa, axis=1) * np.linalg.norm(fb, axis=1), 1e-12)
    levels = np.abs(a - b) * np.asarray(tower.std, np.float32).reshape(1, 3, 1, 1) * 255
    return {
        "cosine_min": float(cos.min()),
        "cosine_mean": float(cos.mean()),
        "mean_abs_levels": float(levels.mean()),
    }


def preprocess_parity(
    paths: Sequence[Path], tower: ImageTower, decode: Decoder, *, draft: bool = True
) -> dict[str, Any]:
    """`decode` + tensor_preprocess against the CPU path (pixseek's loader, JPEG draft) and a full PIL decode.

    Compares model inputs (pixels), not embeddings: a random-weight model's embeddings say little.
    """
    tensors = tensor_preprocess(decode([read_bytes(p) for p in paths]), tower, draft=draft).cpu().numpy()
    loader, full = PixseekLoader(tower), PixseekLoader(tower, draft=False)
    return {
        "images": len(paths),
        "vs_pixseek_loader": _agreement(tensors, np.stack([loader(p) for p in paths]), tower),
        "vs_pil_full_decode": _agreement(tensors, np.stack([full(p) for p in paths]), tower),
    }


# -- model ---------------------------------------------------------------------------------------------------
def build_model(device: torch.device, dtype: torch.dtype) -> Embed:
    """A random-weight ViT-B/32 image tower with projection (openai/clip-vit-base-patch32's shapes)."""
    from transformers import CLIPConfig, CLIPVisionModelWithProjection

    torch.manual_seed(0)
    config = CLIPConfig(projection_dim=512).vision_config
    config.projection_dim = 512
    model = CLIPVisionModelWithProjection(config).to(device, dtype=dtype).eval()

    def embed(pixels: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            out = model(pixel_values=pixels.to(dtype)).image_embeds.float()
            return F.normalize(out, dim=1)

    return embed


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bench_model(embed: Embed, device: torch.device, batch: int, n: int, seconds: float) -> float:
    """Model alone, input already on the device; img/s."""
    pixels = torch.randn((batch, 3, 224, 224), device=device)
    if device.type == "cuda":  # kernels chosen per shape; on a CPU smoke run, a warm-up only costs time
        embed(pixels)
        _sync(device)
    done, start = 0, time.perf_counter()
    while done < n and time.perf_counter() - start < seconds:
        embed(pixels)
        done += batch
    _sync(device)
    return done / (time.perf_counter() - start)


# -- the pipeline --------------------------------------------------------------------------------------------
_DONE = object()


class _Failed:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def _put(q: queue.Queue, item: object, stop: threading.Event) -> bool:
    while not stop.is_set():
        try:
            q.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def _stage(fn: Callable[[Any], Any], inbox: queue.Queue, outbox: queue.Queue, stop: threading.Event) -> None:
    """One pipeline thread: apply fn to each item until _DONE; errors travel downstream."""
    try:
        while not stop.is_set():
            try:
                item = inbox.get(timeout=0.1)
            except queue.Empty:
                continue
            if item is _DONE or isinstance(item, _Failed):
                _put(outbox, item, stop)
                return
            if not _put(outbox, fn(item), stop):
                return
    except BaseException as exc:
        _put(outbox, _Failed(exc), stop)


def _source(items: Iterator[Any], outbox: queue.Queue, stop: threading.Event) -> None:
    try:
        for item in items:
            if not _put(outbox, item, stop):
                return
        _put(outbox, _DONE, stop)
    except BaseException as exc:
        _put(outbox, _Failed(exc), stop)


def run_pipeline(
    source: Iterator[Any], stages: Sequence[Callable[[Any], Any]], sink: Callable[[Any], int], seconds: float
) -> dict[str, float]:
    """source -> stage threads (bounded queues, so each stage prefetches) -> sink in this thread.

    Stops after `seconds` (the rest is dropped); returns images done and the rate.
    """
    stop = threading.Event()
    queues: list[queue.Queue] = [queue.Queue(maxsize=3) for _ in range(len(stages) + 1)]
    threads = [threading.Thread(target=_source, args=(source, queues[0], stop), daemon=True)]
    threads += [
        threading.Thread(target=_stage, args=(fn, queues[i], queues[i + 1], stop), daemon=True)
        for i, fn in enumerate(stages)
    ]
    start = time.perf_counter()
    for t in threads:
        t.start()
    done = 0
    try:
        while True:
            item = queues[-1].get()
            if item is _DONE:
                break
            if isinstance(item, _Failed):
                raise item.exc
            done += sink(item)
            if time.perf_counter() - start > seconds:
                break
    finally:
        elapsed = time.perf_counter() - start
        stop.set()
        for t in threads:
            t.join(timeout=30)
    return {"images": done, "seconds": round(elapsed, 3), "img_per_s": done / elapsed}


def _batches(paths: Sequence[Path], n: int, batch: int) -> Iterator[list[Path]]:
    for start in range(0, n, batch):
        yield [paths[i % len(paths)] for i in range(start, min(n, start + batch))]


@dataclass
class Setup:
    device: torch.device
    dtype: torch.dtype
    tower: ImageTower
    batch: int
    n: int
    seconds: float
    workers: int
    embed: Embed
    draft: bool = True


def _to_host(embed: Embed, pixels: torch.Tensor) -> int:
    """Embed and copy back, as pixseek does with every batch it stores."""
    return len(embed(pixels).cpu())


def tensor_set(s: Setup, paths: list[Path], decode: Decoder) -> dict[str, Any]:
    """Decode-only, decode+preprocess and end to end for the tensor decode path (nvJPEG on CUDA).

    Decode and preprocessing run in a thread on a CUDA stream of their own, so the next batch decodes
    while the model runs on this one. Off CUDA (the CPU smoke check) the same code runs without streams.
    """
    side = torch.cuda.Stream(s.device) if s.device.type == "cuda" else None

    def decode_pre(data: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.cuda.Event | None]:
        with torch.cuda.stream(side) if side is not None else nullcontext(), torch.inference_mode():
            pixels = tensor_preprocess(decode(data), s.tower, dtype=s.dtype, draft=s.draft)
            done = None
            if side is not None:
                done = torch.cuda.Event()
                done.record(side)
        return pixels, done

    def consume(item: tuple[torch.Tensor, torch.cuda.Event | None]) -> int:
        pixels, done = item
        if done is not None:
            current = torch.cuda.current_stream(s.device)
            current.wait_event(done)
            pixels.record_stream(current)  # made on `side`, used here: keep its memory until this is done
        return _to_host(s.embed, pixels)

    in_memory = [read_bytes(p) for p in paths]
    if side is not None:
        consume(decode_pre(in_memory[: s.batch]))  # warm-up: nvJPEG state, kernels
    out: dict[str, Any] = {}
    for key, fn in (("decode_img_per_s", decode), ("decode_preprocess_img_per_s", decode_pre)):
        done, start = 0, time.perf_counter()
        while done < s.n and time.perf_counter() - start < s.seconds:
            chunk = [in_memory[(done + i) % len(in_memory)] for i in range(min(s.batch, s.n - done))]
            fn(chunk)
            done += len(chunk)
        _sync(s.device)
        out[key] = done / (time.perf_counter() - start)
    readers = ThreadPoolExecutor(max(1, min(s.workers, 8)))
    try:
        out["end_to_end"] = run_pipeline(
            _batches(paths, s.n, s.batch),
            [lambda batch: list(readers.map(read_bytes, batch)), decode_pre],
            consume,
            s.seconds,
        )
    finally:
        readers.shutdown(cancel_futures=True)
    return out


def _pool_batches(pool: Executor, loader: Callable[[Path], np.ndarray], paths: Sequence[Path], s: Setup):
    """Pixels from the process pool, stacked into batches (pinned when the model is on CUDA)."""
    todo = [paths[i % len(paths)] for i in range(s.n)]
    batch: list[np.ndarray] = []
    for pixels in pool.map(loader, todo, chunksize=8):
        batch.append(pixels)
        if len(batch) == s.batch:
            yield _host_tensor(batch, s.device)
            batch = []
    if batch:
        yield _host_tensor(batch, s.device)


def _host_tensor(batch: list[np.ndarray], device: torch.device) -> torch.Tensor:
    tensor = torch.from_numpy(np.stack(batch))
    return tensor.pin_memory() if device.type == "cuda" else tensor


def pool_set(s: Setup, paths: list[Path], pool: Executor) -> dict[str, Any]:
    """Decode-only and end to end for the CPU decode path: pixseek's loader in processes, model on device."""
    loader = PixseekLoader(s.tower)
    out: dict[str, Any] = {}
    todo = [paths[i % len(paths)] for i in range(s.n)]
    done, start = 0, time.perf_counter()
    results = pool.map(loader, todo, chunksize=8)
    for _ in results:
        done += 1
        if time.perf_counter() - start > s.seconds:
            break
    out["decode_preprocess_img_per_s"] = done / (time.perf_counter() - start)
    results.close()  # cancels what is still queued
    out["decode_img_per_s"] = out["decode_preprocess_img_per_s"]  # one step in pixseek's loader
    out["end_to_end"] = run_pipeline(
        iter(_pool_batches(pool, loader, paths, s)),
        [lambda host: host.to(s.device, non_blocking=True)],
        lambda pixels: _to_host(s.embed, pixels),
        s.seconds,
    )
    return out


# -- main ----------------------------------------------------------------------------------------------------
def _write(report: dict[str, Any], path: Path | None) -> None:
    text = json.dumps(report, indent=2)
    if path is not None:
        path.write_text(text + "\n")


def _decoders(mode: str, device: torch.device) -> tuple[str, Decoder | None, Decoder, str]:
    """(path name, pipeline decoder or None for the process pool, parity decoder, its name)."""
    decode_jpeg, _ = torchvision_decode_jpeg()
    if mode == "pil-tensor":
        decoder = pil_tensor_decoder(device)
        return "pil-tensor", decoder, decoder, "PIL full decode to tensors"
    if device.type == "cuda" and decode_jpeg is not None:
        nvjpeg = nvjpeg_decoder(decode_jpeg, device)
        return ("pil" if mode == "pil" else "nvjpeg"), (None if mode == "pil" else nvjpeg), nvjpeg, "nvjpeg"
    if decode_jpeg is not None:
        return "pil", None, torchvision_cpu_decoder(decode_jpeg, device), "torchvision decode_jpeg on cpu"
    return "pil", None, pil_tensor_decoder(device), "PIL full decode to tensors (torchvision absent)"


_PATHS = {
    "nvjpeg": "nvJPEG (torchvision.io.decode_jpeg, batched, on the GPU) + tensor_preprocess, in its own "
    "thread and stream; file reads in threads",
    "pil-tensor": "PIL full decode to tensors + tensor_preprocess (the nvJPEG path's code with another "
    "decoder: a check, not a fast path)",
    "pil": "pixseek's loader (PIL with the JPEG draft) in a process pool, prefetch queue to the device",
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--n", type=int, default=30_000, help="images per timed phase (files are cycled)")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="decode processes / readers")
    parser.add_argument("--seconds", type=float, default=30.0, help="cap on each timed phase")
    parser.add_argument("--unique", type=int, default=1024, help="distinct files per set (capped at --n)")
    parser.add_argument("--parity", type=int, default=32, help="images in the parity sample")
    parser.add_argument(
        "--decode",
        choices=("auto", "nvjpeg", "pil", "pil-tensor"),
        default="auto",
        help="auto: nvjpeg where CUDA and torchvision are there, else pil",
    )
    parser.add_argument("--no-draft", action="store_true", help="tensor path: resample from full size")
    parser.add_argument("--sets", default=",".join(SETS), help=f"comma-separated, of {', '.join(SETS)}")
    parser.add_argument("--data", type=Path, default=None, help="keep the JPEGs here (default: a temp dir)")
    parser.add_argument("--json", type=Path, default=None)
    return parser


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = _parser()
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda, but torch sees no CUDA device (use --device cpu for a smoke check)")
    _, tv_version = torchvision_decode_jpeg()
    path_name, decoder, parity_decoder, parity_name = _decoders(args.decode, device)
    if args.decode == "nvjpeg" and path_name != "nvjpeg":
        parser.error(f"--decode nvjpeg needs CUDA and torchvision ({tv_version})")
    names = [name.strip() for name in args.sets.split(",") if name.strip()]
    if unknown := sorted(set(names) - set(SETS)):
        parser.error(f"unknown --sets {unknown}; known: {', '.join(SETS)}")
    dtype = torch.float16 if device.type == "cuda" else torch.float32
    tower = ImageTower(file="none")  # pixseek's CLIP preprocessing: 224, shortest side, centre crop, bicubic
    report: dict[str, Any] = {
        "script": "benchmarks/gpu_pipeline.py",
        "argv": sys.argv[1:] if argv is None else list(argv),
        "complete": False,
        "env": {
            "torch": torch.__version__,
            "torchvision": tv_version,
            "device": str(device),
            "dtype": str(dtype).removeprefix("torch."),
            "cpu_count": os.cpu_count(),
            "workers": args.workers,
            "batch": args.batch,
            "decode": path_name,
            "decode_path": _PATHS[path_name],
            "draft_reduce": decoder is not None and not args.no_draft,
            "preprocess_differences": NVJPEG_DIFFERENCES if decoder else "none: pixseek's own loader",
            "model": "random-weight ViT-B/32 image tower + projection (CLIPConfig(projection_dim=512))",
            "files": "written just before the run, so read from the page cache",
        },
        "sets": {},
    }
    data = args.data or Path(tempfile.mkdtemp(prefix="pixseek-gpu-jpegs-"))
    pool: Executor | None = None
    try:
        start = time.perf_counter()
        unique = max(1, min(args.unique, args.n))
        files = {name: make_jpegs(data, name, SETS[name], unique, args.workers) for name in names}
        report["env"]["make_jpegs_seconds"] = round(time.perf_counter() - start, 2)
        if decoder is None:  # fork the decode workers now, before CUDA and the pipeline threads start
            pool = ProcessPoolExecutor(max(1, args.workers), mp_context=multiprocessing.get_context("fork"))
            list(pool.map(abs, range(4 * args.workers)))
        if device.type == "cuda":  # only now: the decode workers are forked before CUDA starts
            report["env"]["device_name"] = torch.cuda.get_device_name(device)
        embed = build_model(device, dtype)
        setup = Setup(
            device, dtype, tower, args.batch, args.n, args.seconds, args.workers, embed, not args.no_draft
        )
        for name in names:
            paths = files[name]
            result = _run_set(setup, name, paths, decoder, pool)
            sample = paths[: max(1, min(args.parity, len(paths)))]
            result["parity"] = {
                "decoder": parity_name,
                **preprocess_parity(sample, tower, parity_decoder, draft=not args.no_draft),
                "loader_matches_pixseek_imageloader": loader_matches_pixseek(tower, paths[0]),
            }
            report["sets"][name] = result
            _write(report, args.json)  # partial results survive a timeout
            print(f"{name}: {json.dumps(result)}", flush=True)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
        if args.data is None:
            shutil.rmtree(data, ignore_errors=True)
    if device.type == "cuda":
        report["env"]["max_memory_allocated_gib"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 2)
    report["complete"] = True
    _write(report, args.json)
    print(json.dumps(report, indent=2))
    return report


def _run_set(
    s: Setup, name: str, paths: list[Path], decoder: Decoder | None, pool: Executor | None
) -> dict[str, Any]:
    width, height = SETS[name]
    result: dict[str, Any] = {
        "width": width,
        "height": height,
        "files": len(paths),
        "mean_file_bytes": int(np.mean([p.stat().st_size for p in paths])),
        "model_img_per_s": bench_model(s.embed, s.device, s.batch, s.n, s.seconds),
    }
    if decoder is not None:
        result.update(tensor_set(s, paths, decoder))
    else:
        assert pool is not None
        result.update(pool_set(s, paths, pool))
    result["end_to_end_img_per_s"] = result["end_to_end"]["img_per_s"]
    result["goal_img_per_s"] = GOALS[name]
    result["meets_goal"] = result["end_to_end_img_per_s"] >= GOALS[name] if s.device.type == "cuda" else None
    return result


if __name__ == "__main__":
    main()
