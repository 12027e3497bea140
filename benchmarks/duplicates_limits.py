"""How the near-duplicate finder's second-look limits were chosen: on a planted set made by
`duplicates_bench.py planted`, every proposed pair's features are computed as the finder computes them,
then each combination of limits is scored as the benchmark scores groups (every pair inside a found group
counts; the truth is the planting joined with exact copies, never the finder).

    python benchmarks/duplicates_bench.py planted /tmp/dups --model efficientnet-lite0
    python benchmarks/duplicates_limits.py /tmp/dups --seed 0      # the seed the set was planted with

Features per pair: the whole-grid score (32 cells, the threshold's), the worst local difference on the
64-cell grids for several window sizes, the local structure agreement on them, the hue difference on
4 x 4 cells (brightness and one saturation gain set aside), and the shapes' difference. Prints JSON:
the ten best combinations by the smaller of precision and recall, and the defaults' row.
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import numpy as np
from duplicates_bench import _pairs, planted_groups, true_pairs  # this folder: run as python benchmarks/...
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from pixseek.models.signature import DETAIL_GRID
from pixseek.search import duplicates as dup
from pixseek.services import Index
from pixseek.services.duplicates import original_reader
from pixseek.services.signatures import read_signatures

WINDOWS = (2, 3, 4, 6, 8)


def features(db: Path) -> tuple[list[str], dict[str, np.ndarray], list[list[str]]]:
    index = Index(db)
    m = index._matrix()
    proposed = dup.neighbour_pairs(len(m), m.row_vectors, m.exact)
    read = original_reader(m)
    rows = np.unique(np.concatenate([proposed.first, proposed.second]))
    coarse = read_signatures(rows, len(m), read, max_pixels=10**9, threads=2, progress=None)
    score, _ = coarse.similarity(proposed)
    near = proposed.where(score >= 0.85, score)
    rows = np.unique(np.concatenate([near.first, near.second]))
    fine = read_signatures(
        rows, len(m), read, max_pixels=10**9, threads=2, progress=None, grid=DETAIL_GRID, colour=True
    )
    x, y = fine.slot[near.first], fine.slot[near.second]
    assert (x >= 0).all() and (y >= 0).all(), "every planted picture is readable"
    a, b = fine._floats(x), fine._floats(y)
    out = {"score": near.score, "colour": dup.colour_difference(fine.colour[x], fine.colour[y])}
    out["shape"] = dup.shape_difference(fine.sizes[x], fine.sizes[y])
    out["structure"] = dup.structure_agreement(a, b, a_flat=fine.flat[x], b_flat=fine.flat[y])
    for w in WINDOWS:
        out[f"local{w}"] = dup.local_difference(a, b, a_flat=fine.flat[x], b_flat=fine.flat[y], window=w)
    paths = list(m.paths)
    pairs = [tuple(sorted((paths[i], paths[j]))) for i, j in zip(near.first, near.second, strict=True)]
    by_hash: dict[str, list[str]] = {}
    for record in index._read_catalog().records():
        by_hash.setdefault(record.content_hash, []).append(record.path)
    copies = [g for g in by_hash.values() if len(g) > 1]
    return [f"{p}\t{q}" for p, q in pairs], out, copies


def score_groups(kept: list[str], copies: list[list[str]], truth: set[tuple[str, str]]) -> tuple:
    edges = [tuple(k.split("\t")) for k in kept] + sorted(_pairs(copies))
    names = sorted({p for e in edges for p in e})
    at = {p: i for i, p in enumerate(names)}
    graph = coo_matrix(
        (np.ones(len(edges)), ([at[p] for p, _ in edges], [at[q] for _, q in edges])),
        shape=(len(names), len(names)),
    )
    _, component = connected_components(graph, directed=False)
    groups: dict[int, list[str]] = {}
    for name, c in zip(names, component, strict=True):
        groups.setdefault(int(c), []).append(name)
    found = _pairs(list(groups.values()))
    hits = len(found & truth)
    return len(found), hits / max(1, len(found)), hits / len(truth)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("planted", type=Path, help="the folder duplicates_bench.py planted")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    pairs, feats, copies = features(args.planted / "db")
    truth = true_pairs(planted_groups(seed=args.seed), copies)
    rows = []
    limits = itertools.product(
        (0.86, 0.88, 0.90, 0.92, 0.93, 0.94, 0.95),
        WINDOWS,
        np.arange(0.6, 2.6, 0.1),
        (0.07, 0.1, 0.15, 0.2, np.inf),
        (-np.inf, 0.3, 0.4, 0.5, 0.6),
        (np.inf, 0.03, 0.05, 0.08),
    )
    for threshold, window, local, colour, structure, shape in limits:
        keep = (
            (feats["score"] >= threshold)
            & (feats[f"local{window}"] <= local)
            & (feats["colour"] <= colour)
            & (feats["structure"] >= structure)
            & (feats["shape"] <= shape)
        )
        n, precision, recall = score_groups([p for p, k in zip(pairs, keep, strict=True) if k], copies, truth)
        limit = {
            "threshold": threshold,
            "window": window,
            "local": round(float(local), 2),
            "colour": colour,
            "structure": structure,
            "shape": shape,
        }
        rows.append({**limit, "pairs": n, "precision": round(precision, 3), "recall": round(recall, 3)})
    rows.sort(key=lambda r: (-min(r["precision"], r["recall"]), -r["precision"]))
    default = next(
        r for r in rows
        if (r["threshold"], r["window"], r["local"], r["colour"], r["structure"], r["shape"])
        == (dup.DEFAULT_THRESHOLD, dup.LOCAL_WINDOW, dup.MAX_LOCAL_DIFFERENCE, dup.MAX_COLOUR_DIFFERENCE,
            dup.MIN_STRUCTURE, dup.MAX_SHAPE_CHANGE)
    )  # fmt: skip
    print(json.dumps({"best": rows[:10], "default": default}, indent=1))


if __name__ == "__main__":
    main()
