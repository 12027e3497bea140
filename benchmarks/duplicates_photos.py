"""The near-duplicate finder on real photographs under colour edits: recall per edit, and precision.

    python benchmarks/duplicates_photos.py /tmp/dup-photos --model efficientnet-lite0
    python benchmarks/duplicates_photos.py /tmp/dup-photos --reuse     # score the same set again

The planted Tux Paint benchmark (`duplicates_bench.py planted`) edits clip art on white with the issue's
five edits. Photos fill the frame and users edit their colours, so this one takes the JPEG photos Debian's
wallpaper packages ship (mate-backgrounds; plasma-workspace-wallpapers and gnome-backgrounds too, where
installed), each decoded to at most 1,600 pixels a side and saved as `orig.jpg`, and adds one copy per
edit: brightness x0.5, x1.25 and x1.5, contrast x0.7 and x1.3, autocontrast, saturation x0.7 and x1.3,
JPEG quality 40, a 50% resize and a 5% crop per side. It indexes the folder, runs `Index.duplicates` at
the default threshold and scores every pair inside a found group against the truth: copies of one photo
belong together, and so do photos the package ships at several sizes (`Elephants.jpg`,
`Elephants_3840x2160.jpg`: the same name once a `_WIDTHxHEIGHT` suffix is dropped). Never the finder.
Prints JSON: precision, recall, and for each edit how many of its copies were left out of their photo's
group.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageEnhance, ImageOps

from pixseek.services import Index

PHOTO_ROOTS = (Path("/usr/share/backgrounds"), Path("/usr/share/wallpapers"))
LONG_SIDE = 1600
EDITS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "bright0.5": lambda im: ImageEnhance.Brightness(im).enhance(0.5),
    "bright1.25": lambda im: ImageEnhance.Brightness(im).enhance(1.25),
    "bright1.5": lambda im: ImageEnhance.Brightness(im).enhance(1.5),
    "contrast0.7": lambda im: ImageEnhance.Contrast(im).enhance(0.7),
    "contrast1.3": lambda im: ImageEnhance.Contrast(im).enhance(1.3),
    "autocontrast": ImageOps.autocontrast,
    "saturation0.7": lambda im: ImageEnhance.Color(im).enhance(0.7),
    "saturation1.3": lambda im: ImageEnhance.Color(im).enhance(1.3),
    "resize50": lambda im: im.resize((im.width // 2, im.height // 2), Image.Resampling.LANCZOS),
    "crop5": lambda im: im.crop(
        (int(im.width * 0.05), int(im.height * 0.05), int(im.width * 0.95), int(im.height * 0.95))
    ),
}
_SIZE_SUFFIX = re.compile(r"_\d+x\d+$")


def photos() -> list[Path]:
    return sorted(p for root in PHOTO_ROOTS for p in root.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg"))


def picture_of(photo: Path) -> str:
    """The picture a photo file shows: its name without a `_WIDTHxHEIGHT` size suffix."""
    return _SIZE_SUFFIX.sub("", photo.stem)


def make_set(out: Path, sources: list[Path]) -> None:
    for i, source in enumerate(sources):
        folder = out / f"{i:03d}"
        folder.mkdir(parents=True)
        with Image.open(source) as decoded:
            decoded.draft("RGB", (LONG_SIDE, LONG_SIDE))
            im = decoded.convert("RGB")
        im.thumbnail((LONG_SIDE, LONG_SIDE), Image.Resampling.LANCZOS)
        im.save(folder / "orig.jpg", quality=92)
        im.save(folder / "jpeg40.jpg", quality=40)
        for name, edit in EDITS.items():
            edit(im).save(folder / f"{name}.jpg", quality=92)


def truth(out: Path, sources: list[Path]) -> set[tuple[str, str]]:
    by_picture: dict[str, list[str]] = {}
    for i, source in enumerate(sources):
        files = sorted(p.name for p in (out / f"{i:03d}").iterdir())
        by_picture.setdefault(picture_of(source), []).extend(f"{i:03d}/{f}" for f in files)
    return {pair for paths in by_picture.values() for pair in itertools.combinations(sorted(paths), 2)}


def score(out: Path, model: str, reuse: bool) -> dict:
    sources = photos()
    if not sources:
        raise SystemExit("no JPEG photos under " + ", ".join(map(str, PHOTO_ROOTS)))
    if not (reuse and (out / "db").exists()):
        if out.exists():
            shutil.rmtree(out)
        make_set(out / "set", sources)
        Index(out / "db", model=model).add(out / "set")
    index = Index(out / "db", model=model)
    report = index.duplicates()
    found = {
        pair for g in report.groups for pair in itertools.combinations(sorted(h.path for h in g.hits), 2)
    }
    true = truth(out / "set", sources)
    hits = len(found & true)
    apart: dict[str, int] = {}
    for a, b in true - found:
        if a.split("/")[0] == b.split("/")[0] and "orig.jpg" in (a.split("/")[1], b.split("/")[1]):
            edit = (b if a.endswith("/orig.jpg") else a).split("/")[1].removesuffix(".jpg")
            apart[edit] = apart.get(edit, 0) + 1
    return {
        "model": model,
        "photos": len(sources),
        "images": len(index.arrays().ids),
        "true_pairs": len(true),
        "pairs_found": len(found),
        "precision": round(hits / max(1, len(found)), 3),
        "recall": round(hits / len(true), 3),
        "detail_rejected": report.detail_rejected,
        "copies_apart_from_their_original": dict(sorted(apart.items())),
        "seconds": round(report.seconds, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", type=Path)
    parser.add_argument("--model", default="efficientnet-lite0")
    parser.add_argument("--reuse", action="store_true", help="score OUT again without rebuilding it")
    args = parser.parse_args()
    print(json.dumps(score(args.out, args.model, args.reuse), indent=2))


if __name__ == "__main__":
    main()
