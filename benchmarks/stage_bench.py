"""Per-stage cost of indexing, and Ray versus the local path on the same cores.

    python benchmarks/stage_bench.py make-photos /tmp/photos330 --copies 6   # Debian's 55 wallpaper JPEGs x6
    python benchmarks/stage_bench.py stages /tmp/photos330 --model efficientnet-lite0 [--s3]
    python benchmarks/stage_bench.py ray-vs-local /tmp/photos330 --model efficientnet-lite0 --actors 1
    python benchmarks/stage_bench.py bound /tmp/photos330 --model MODEL_FOLDER [--runs 3]

`stages` times each stage alone on the same files: list, read, hash, decode + preprocess, embed (model
only, batches of 32), and a whole `Index.add` with its own stage split (write + commit included).
`--s3` also lists and reads them through a local moto_server (a stand-in: loopback, not a real store).
Each command prints JSON. Timings are wall seconds on this machine; compare ratios within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from pixseek.indexing.hashing import content_hash_bytes
from pixseek.indexing.sources import LocalSource, ObjectStoreSource
from pixseek.models.registry import load_embedder
from pixseek.services import Index
from pixseek.settings import Settings

PHOTO_DIRS = (Path("/usr/share/backgrounds"), Path("/usr/share/wallpapers"))


def make_photos(out: Path, copies: int) -> dict:
    """The wallpaper JPEGs of mate-backgrounds, plasma-workspace-wallpapers and gnome-backgrounds, each
    copied `copies` times with a distinct trailing byte (distinct content, same pixels)."""
    photos = sorted(
        {p.resolve() for d in PHOTO_DIRS for p in d.rglob("*") if p.suffix.lower() in {".jpg", ".jpeg"}}
    )
    out.mkdir(parents=True, exist_ok=True)
    for i, src in enumerate(photos):
        data = src.read_bytes()
        for c in range(copies):
            (out / f"c{c}").mkdir(exist_ok=True)
            (out / f"c{c}" / f"{i:03d}-{src.stem}.jpg").write_bytes(data + bytes([c]))
    return {"photos": len(photos), "files": len(photos) * copies, "folder": str(out)}


def _timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def _stages(source, embedder, label: str) -> dict:
    listed_s, scan = _timed(source.scan)
    paths = [f.path for f in scan.files]
    read_s, blobs = _timed(lambda: [source.read(p) for p in paths])
    hash_s, _ = _timed(lambda: [content_hash_bytes(b) for b in blobs])
    loader = embedder.image_loader()
    import io

    decode_s, loaded = _timed(lambda: [loader(io.BytesIO(b)) for b in blobs])
    pixels = np.stack([img.pixels for img in loaded])
    embed_s, _ = _timed(
        lambda: [embedder.embed_pixels(pixels[i : i + 32]) for i in range(0, len(pixels), 32)]
    )
    n = len(paths)
    per = {"list": listed_s, "read": read_s, "hash": hash_s, "decode": decode_s, "embed": embed_s}
    return {
        "source": label,
        "files": n,
        "ms_per_file": {k: round(1000 * v / n, 3) for k, v in per.items()},
        "mb_read": round(sum(len(b) for b in blobs) / 1e6, 1),
    }


def stages(folder: Path, model: str, s3: bool) -> dict:
    settings = Settings()
    embedder = load_embedder(model, settings=settings)
    out = {"model": model, "stages": [_stages(LocalSource(folder), embedder, "local")]}
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "db"
        seconds, report = _timed(lambda: Index(db, model=model).add(folder))
        out["index_add"] = {
            "seconds": round(seconds, 2),
            "images_per_second": round(report.images_per_second, 2),
            "stage_seconds": {k: round(v, 3) for k, v in report.stage_seconds.items()},
        }
    if s3:
        out["stages"].append(_s3_stages(folder, embedder))
    return out


def _s3_stages(folder: Path, embedder) -> dict:
    """The same stages through moto_server on 127.0.0.1 (started here, stopped by PID)."""
    import boto3

    exe = shutil.which("moto_server", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    proc = subprocess.Popen(
        [exe, "-H", "127.0.0.1", "-p", "5071"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        time.sleep(3)
        env = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_REGION": "us-east-1"}
        os.environ.update(env | {"AWS_ENDPOINT_URL": "http://127.0.0.1:5071", "AWS_ALLOW_HTTP": "true"})
        client = boto3.client("s3", endpoint_url="http://127.0.0.1:5071")
        client.create_bucket(Bucket="bench")
        for path in sorted(folder.rglob("*.jpg")):
            client.put_object(
                Bucket="bench", Key=f"p/{path.relative_to(folder).as_posix()}", Body=path.read_bytes()
            )
        return _stages(ObjectStoreSource("s3://bench/p"), embedder, "s3 (moto_server on loopback)")
    finally:
        proc.terminate()
        proc.wait(10)


def ray_vs_local(folder: Path, model: str, actors: int) -> dict:
    """Whole runs, same folder, same cores: the local pipeline, then --ray (a local Ray of this machine)."""
    import ray

    out = {"model": model, "actors": actors, "cores": os.cpu_count()}
    with tempfile.TemporaryDirectory() as tmp:
        local = Index(Path(tmp) / "local.db", model=model).add(folder)
        ray.init(address="local", include_dashboard=False, _node_ip_address="127.0.0.1")  # loopback only
        try:
            distributed = Index(Path(tmp) / "ray.db", model=model).add(folder, ray_actors=actors)
        finally:
            ray.shutdown()
    out["local_images_per_second"] = round(local.images_per_second, 2)
    out["ray_images_per_second"] = round(distributed.images_per_second, 2)
    out["ray_over_local"] = round(distributed.images_per_second / local.images_per_second, 3)
    out["ray"] = distributed.ray
    return out


def bound(folder: Path, model: str, workers: int | None, runs: int) -> dict:
    """End-to-end `Index.add` against the bound set by measured stage costs on this machine's cores:
    cores * 1000 / (decode core-ms + model core-ms) images/s, decode and model sharing every core.

    The model's speed drifts from run to run here, so model-only and end-to-end runs alternate `runs`
    times and the fraction compares their medians."""
    import io
    import statistics

    cores = len(os.sched_getaffinity(0))  # the cores this process may use (taskset narrows them)
    settings = Settings()
    embedder = load_embedder(model, settings=settings)
    loader = embedder.image_loader()
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    blobs = [f.read_bytes() for f in files]
    decode_s, loaded = _timed(lambda: [loader(io.BytesIO(b)) for b in blobs])  # one thread: core-seconds
    pixels = np.stack([img.pixels for img in loaded])
    del loaded
    embedder.embed_pixels(pixels[:32])  # warm-up
    n = len(files)
    model_rates, end_to_end = [], []
    for _ in range(runs):
        embed_s, _ = _timed(
            lambda: [embedder.embed_pixels(pixels[i : i + 32]) for i in range(0, len(pixels), 32)]
        )
        model_rates.append(n / embed_s)
        with tempfile.TemporaryDirectory() as tmp:
            report = Index(Path(tmp) / "db", model=model).add(folder, workers=workers)
        end_to_end.append(report.images_per_second)
    decode_core_ms = 1000 * decode_s / n
    model_core_ms = cores * 1000 / statistics.median(model_rates)  # the model uses every core
    bound_rate = cores * 1000 / (decode_core_ms + model_core_ms)
    return {
        "model": model,
        "files": n,
        "cores": cores,
        "runs": runs,
        "decode_core_ms": round(decode_core_ms, 1),
        "model_only_images_per_second": [round(r, 2) for r in model_rates],
        "bound_images_per_second": round(bound_rate, 2),
        "end_to_end_images_per_second": [round(r, 2) for r in end_to_end],
        "fraction_of_bound": round(statistics.median(end_to_end) / bound_rate, 3),
        "stage_seconds": {k: round(v, 2) for k, v in report.stage_seconds.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    make = sub.add_parser("make-photos")
    make.add_argument("out", type=Path)
    make.add_argument("--copies", type=int, default=6)
    st = sub.add_parser("stages")
    st.add_argument("folder", type=Path)
    st.add_argument("--model", default="efficientnet-lite0")
    st.add_argument("--s3", action="store_true")
    rv = sub.add_parser("ray-vs-local")
    bd = sub.add_parser("bound", help="end to end against the bound from measured stage costs")
    bd.add_argument("folder", type=Path)
    bd.add_argument("--model", default="efficientnet-lite0")
    bd.add_argument("--workers", type=int, default=None)
    bd.add_argument("--runs", type=int, default=3, help="alternating model-only and end-to-end runs")
    rv.add_argument("folder", type=Path)
    rv.add_argument("--model", default="efficientnet-lite0")
    rv.add_argument("--actors", type=int, default=1)
    args = parser.parse_args()
    if args.command == "make-photos":
        result = make_photos(args.out, args.copies)
    elif args.command == "stages":
        result = stages(args.folder, args.model, args.s3)
    elif args.command == "bound":
        result = bound(args.folder, args.model, args.workers, args.runs)
    else:
        result = ray_vs_local(args.folder, args.model, args.actors)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
