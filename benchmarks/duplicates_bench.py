"""The near-duplicate finder, measured: planted copies in a real collection, and its cost at N vectors.

    python benchmarks/duplicates_bench.py planted /tmp/dups --model efficientnet-lite0
    python benchmarks/duplicates_bench.py planted /tmp/dups-s1 --seed 1   # another draw, held out
    python benchmarks/duplicates_bench.py planted /tmp/dups-s1 --seed 1 --reuse   # score it again
    python benchmarks/duplicates_bench.py synthetic /tmp/dups-1m --n 1000000
    python benchmarks/duplicates_bench.py neighbours /tmp/dups-1m/db --rows 40960 --order file   # or catalog

`planted` copies every Tux Paint stamp, picks 100 of them (seeded) and adds 2 variants of each, drawn from
five edits: 50% resize, JPEG quality 40, a 5% crop per side, +25% brightness, PNG -> JPEG. It indexes the
folder, runs `Index.duplicates` at a sweep of thresholds and scores pairwise precision and recall of the
groups (every pair inside a group counts) against the planted groups joined with exact copies (same content
hash): Tux Paint ships a few stamps twice, in two folders, so a variant of one is a copy of the other too.
The truth never comes from the finder. It also prints the best cosine-only figures for comparison
and the pairs of original stamps the finder joins (the collection's own near-copies).

`synthetic` writes N clustered vectors (as `pixseek bench search`) and times the finder through the same
`Index.duplicates` call; the rows have no files, so every proposed pair ends unconfirmed, and the figure
covers the neighbour search, the attempted reads and the grouping. Prints JSON.

`neighbours` times the self-join's neighbour queries alone on a slice of a kept catalog past RAM (the
`synthetic` one): rows visited in the vector file's order (as the finder does) or in catalog order.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import resource
import shutil
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance

from pixseek.services import Index
from pixseek.services.search_bench import SearchBenchOptions, build_catalog

STAMPS = Path("/usr/share/tuxpaint/stamps")
EDITS = ("resize50", "jpeg40", "crop5", "bright25", "png2jpeg")


def _flat(im: Image.Image) -> Image.Image:
    im = im.convert("RGBA")
    out = Image.new("RGB", im.size, "white")
    out.paste(im, mask=im.getchannel("A"))
    return out


def _variant(im: Image.Image, edit: str, dst: Path) -> Path:
    flat = _flat(im)
    if edit in ("jpeg40", "png2jpeg"):
        flat.save(dst.with_suffix(".jpg"), quality=40 if edit == "jpeg40" else 90)
        return dst.with_suffix(".jpg")
    w, h = flat.size
    if edit == "resize50":
        flat = flat.resize((max(1, w // 2), max(1, h // 2)), Image.Resampling.LANCZOS)
    elif edit == "crop5":
        flat = flat.crop((int(w * 0.05), int(h * 0.05), int(w * 0.95), int(h * 0.95)))
    else:
        flat = ImageEnhance.Brightness(flat).enhance(1.25)
    flat.save(dst.with_suffix(".png"))
    return dst.with_suffix(".png")


def plan(picks: int = 100, seed: int = 0) -> list[tuple[Path, list[str]]]:
    """Which stamps get variants, and which two edits each: the same seed gives the same plan."""
    stamps = sorted(STAMPS.rglob("*.png"))
    rng = random.Random(seed)
    picked = rng.sample(stamps, picks)
    return [(p, rng.sample(EDITS, 2)) for p in picked]


def variant_name(i: int, stamp: Path, edit: str) -> str:
    """A variant's path relative to the collection (the suffix its edit saves it with)."""
    return f"variants/{i:03d}_{edit}_{stamp.stem}{'.jpg' if edit in ('jpeg40', 'png2jpeg') else '.png'}"


def planted_groups(picks: int = 100, seed: int = 0) -> list[list[str]]:
    """The planted groups (relative paths) of `make_planted`'s collection, without making it."""
    return [
        [f"stamps/{p.relative_to(STAMPS).as_posix()}"] + [variant_name(i, p, e) for e in edits]
        for i, (p, edits) in enumerate(plan(picks, seed))
    ]


def make_planted(out: Path, picks: int = 100, seed: int = 0) -> list[list[str]]:
    """The collection and its planted groups (relative paths)."""
    for p in sorted(STAMPS.rglob("*.png")):
        dst = out / "stamps" / p.relative_to(STAMPS)
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(p, dst)
    (out / "variants").mkdir(parents=True, exist_ok=True)
    for i, (p, edits) in enumerate(plan(picks, seed)):
        with Image.open(p) as im:
            for edit in edits:
                made = _variant(im, edit, out / "variants" / f"{i:03d}_{edit}_{p.stem}")
                assert made.relative_to(out).as_posix() == variant_name(i, p, edit)
    return planted_groups(picks, seed)


def _pairs(groups: list[list[str]]) -> set[tuple[str, str]]:
    return {tuple(sorted(p)) for g in groups for p in itertools.combinations(g, 2)}  # type: ignore[misc]


def true_pairs(planted: list[list[str]], copies: list[list[str]]) -> set[tuple[str, str]]:
    """Every pair of the groups that planted groups and exact-copy groups make where they share a path."""
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for group in planted + copies:
        for other in group[1:]:
            parent[root(other)] = root(group[0])
    joined: dict[str, list[str]] = {}
    for x in list(parent):
        joined.setdefault(root(x), []).append(x)
    return _pairs(list(joined.values()))


def planted(out: Path, model: str, seed: int = 0, reuse: bool = False) -> dict:
    if reuse and (out / "db").exists():  # planted and indexed before with this seed: score it again
        groups = planted_groups(seed=seed)
        index = Index(out / "db", model=model)
    else:
        if out.exists():
            shutil.rmtree(out)
        groups = make_planted(out / "set", seed=seed)
        index = Index(out / "db", model=model)
        index.add(out / "set")
    arrays = index.arrays()
    by_hash: dict[str, list[str]] = {}
    for record in index._read_catalog().records():
        by_hash.setdefault(record.content_hash, []).append(record.path)
    truth = true_pairs(groups, [g for g in by_hash.values() if len(g) > 1])
    sweep = []
    for threshold in (0.85, 0.88, 0.9, 0.92, 0.93, 0.94, 0.95, 0.96):
        report = index.duplicates(threshold=threshold)
        found = _pairs([[h.path for h in g.hits] for g in report.groups])
        tp = len(found & truth)
        sweep.append(
            {
                "threshold": threshold,
                "pairs": len(found),
                "precision": round(tp / max(1, len(found)), 3),
                "recall": round(tp / len(truth), 3),
                "seconds": round(report.seconds, 2),
                "detail_rejected": report.detail_rejected,
                "false_pairs": len(found - truth),
                "false_pairs_between_originals": len(
                    [p for p in found - truth if all(x.startswith("stamps/") for x in p)]
                ),
                "originals_joined": sorted(
                    " = ".join(p) for p in found - truth if all(x.startswith("stamps/") for x in p)
                )[:12],
            }
        )
    return {
        "model": model,
        "images": len(arrays.ids),
        "true_pairs": len(truth),
        "cosine_only": _cosine_only(arrays, truth),
        "sweep": sweep,
    }


def _cosine_only(arrays, truth: set[tuple[str, str]]) -> dict:
    """The best a cosine threshold alone reaches: precision at recall >= 0.97, and the best F1."""
    v = arrays.vectors
    s = v @ v.T
    iu = np.triu_indices(len(v), 1)
    order = np.argsort(-s[iu])
    is_true = np.array(
        [tuple(sorted((arrays.paths[i], arrays.paths[j]))) in truth for i, j in zip(*iu, strict=True)]
    )
    hits = np.cumsum(is_true[order])
    precision = hits / np.arange(1, len(order) + 1)
    recall = hits / len(truth)
    at = int(np.argmax(recall >= 0.97))
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-9)
    best = int(np.argmax(f1))
    return {
        "precision_at_recall_0.97": round(float(precision[at]), 3),
        "best_f1": {"precision": round(float(precision[best]), 3), "recall": round(float(recall[best]), 3)},
    }


def synthetic(out: Path, n: int) -> dict:
    if out.exists():
        shutil.rmtree(out)
    start = time.perf_counter()
    build_catalog(out / "db", SearchBenchOptions(n=n, queries=1))
    built = time.perf_counter() - start
    index = Index(out / "db")
    start = time.perf_counter()
    marks: dict[str, int] = {}

    def progress(stage: str, done: int, total: int) -> None:
        tenth = 10 * done // max(1, total)
        if marks.get(stage) != tenth:
            marks[stage] = tenth
            print(
                f"{stage} {done}/{total} at {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True
            )

    report = index.duplicates(progress=progress)
    seconds = time.perf_counter() - start
    return {
        "n": n,
        "catalog_build_seconds": round(built, 1),
        "finder_seconds": round(seconds, 1),
        "proposed_pairs": report.proposed,
        "unread_rows": len(report.unreadable),
        "groups": len(report.groups),
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def neighbours(db: Path, rows: int, order: str) -> dict:
    """The finder's neighbour stage on the first `rows` rows of `order`, a chunk of 4,096 at a time."""
    from pixseek.search.compressed import CompressedIndex
    from pixseek.services.duplicates import SELF_JOIN_REFINE

    index = Index(db)
    m = index._matrix()  # the finder's own objects, without running the whole finder
    ann = m.ann(index._ann_folder(m, None))
    if not isinstance(ann, CompressedIndex):
        raise SystemExit(f"{db} is not served past RAM (build it with `synthetic --n 1000000`)")
    ann = ann.with_params(refine=SELF_JOIN_REFINE)
    visit = (ann.scan_order() if order == "file" else np.arange(len(m)))[:rows]
    start = time.perf_counter()
    found = 0
    for first in range(0, len(visit), 4096):
        chunk = visit[first : first + 4096]
        scores, _ = ann.search(m.row_vectors(chunk), 11)
        found += int((scores >= 0.5).sum())
    seconds = time.perf_counter() - start
    per_row = round(1e6 * seconds / max(1, len(visit)), 1)
    return {"order": order, "rows": len(visit), "seconds": round(seconds, 2), "us_per_row": per_row,
            "neighbours_found": found}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("planted")
    p.add_argument("out", type=Path)
    p.add_argument("--model", default="efficientnet-lite0")
    p.add_argument("--seed", type=int, default=0, help="which stamps get variants, and which edits")
    p.add_argument("--reuse", action="store_true", help="score OUT again if it was planted with this seed")
    s = sub.add_parser("synthetic")
    s.add_argument("out", type=Path)
    s.add_argument("--n", type=int, default=1_000_000)
    q = sub.add_parser("neighbours")
    q.add_argument("db", type=Path)
    q.add_argument("--rows", type=int, default=40_960)
    q.add_argument("--order", choices=["file", "catalog"], default="file")
    args = parser.parse_args()
    if args.command == "planted":
        result = planted(args.out, args.model, args.seed, reuse=args.reuse)
    elif args.command == "synthetic":
        result = synthetic(args.out, args.n)
    else:
        result = neighbours(args.db, args.rows, args.order)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
