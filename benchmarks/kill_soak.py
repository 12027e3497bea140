"""kill -9 at random moments: each round changes the folder (adds, removes and rewrites files), starts an
index run, kills it at a random time (start-up, embedding, commits or the final compaction), then lets a
second run finish and checks the catalog:

- the exact set of files, each once;
- every vector equal (cosine >= 0.9999) to a fresh embedding of its file;
- no orphan versions: the catalog's files do not grow from round to round beyond its data.

    python benchmarks/kill_soak.py --rounds 30 [--seed 0]

Prints JSON; exits 1 if any round fails a check. The slow test runs a few rounds of the same code.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pixseek.services import Index  # noqa: E402
from tests.fakes import FakeEmbedder  # noqa: E402
from tests.indexing.images import write_image  # noqa: E402
from tests.subprocess_env import checkout_env  # noqa: E402


def _change(folder: Path, rng: random.Random, round_no: int) -> None:
    """Add a few files, remove a few, rewrite one: every run has something to embed, delete and compact."""
    files = sorted(folder.rglob("*.png"))
    for path in rng.sample(files, k=min(3, len(files))):
        path.unlink()
    for i in range(6):
        write_image(folder / f"c{i % 3}" / f"r{round_no:02d}-{i}.png", seed=1000 * round_no + i)
    rest = sorted(folder.rglob("*.png"))
    write_image(rng.choice(rest), seed=999_999 - round_no)


def _check(db: Path, folder: Path) -> list[str]:
    """What is wrong with the catalog against the folder (nothing: an empty list)."""
    problems = []
    index = Index(db, embedder=FakeEmbedder())
    arrays = index.arrays()
    expected = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.png"))
    if sorted(arrays.paths) != expected:
        problems.append(f"paths differ: {len(arrays.paths)} rows for {len(expected)} files")
    if len(set(arrays.ids)) != len(arrays.ids):
        problems.append("duplicate ids")
    fresh = FakeEmbedder()
    loader = fresh.image_loader()
    for path, vector in zip(arrays.paths, arrays.vectors, strict=True):
        truth = fresh.embed_pixels(loader(folder / path).pixels[None])[0]
        if float(np.dot(vector, truth)) < 0.9999:
            problems.append(f"{path}: stale vector")
    return problems


def _catalog_files(db: Path) -> int:
    return sum(1 for p in db.rglob("*") if p.is_file())


def kill_soak(rounds: int, seed: int = 0, workdir: Path | None = None) -> dict:
    rng = random.Random(seed)
    tmp = Path(workdir or tempfile.mkdtemp(prefix="pixseek-kill-"))
    folder, db = tmp / "imgs", tmp / "db"
    for i in range(24):
        write_image(folder / f"c{i % 3}" / f"{i:02d}.png", seed=i)
    Index(db, embedder=FakeEmbedder()).add(folder, workers=0)
    baseline_files = _catalog_files(db)
    results = []
    for round_no in range(rounds):
        _change(folder, rng, round_no)
        cmd = [sys.executable, "-m", "tests.indexing.slow_index", str(db), str(folder), "--delay", "0.05"]
        child = subprocess.Popen(cmd, cwd=REPO, env=checkout_env(), stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)  # fmt: skip
        kill_at = rng.uniform(0.5, 4.0)  # start-up takes ~1-2 s; the run itself ~1 s more, then compaction
        time.sleep(kill_at)
        finished = child.poll() is not None
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        report = Index(db, embedder=FakeEmbedder()).add(folder, workers=0)
        problems = _check(db, folder) + [f"failed: {f}" for f in report.failed]
        results.append({"round": round_no, "kill_after_s": round(kill_at, 2), "child_had_finished": finished,
                        "catalog_files": _catalog_files(db), "problems": problems})  # fmt: skip
    files = [r["catalog_files"] for r in results]
    return {
        "rounds": rounds,
        "killed_mid_run": sum(not r["child_had_finished"] for r in results),
        "rounds_with_problems": [r for r in results if r["problems"]],
        "catalog_files": {
            "after_first_index": baseline_files,
            "min": min(files),
            "max": max(files),
            "last": files[-1],
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    result = kill_soak(args.rounds, args.seed)
    print(json.dumps(result, indent=2))
    sys.exit(1 if result["rounds_with_problems"] else 0)


if __name__ == "__main__":
    main()
