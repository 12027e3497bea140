"""Time and peak memory of each hostile image (tests/hostile/corpus.py), each in a fresh process with a
1 GB memory limit, against the bounds: at most 2 s and 1 GB per image.

    python benchmarks/hostile_bench.py [--memory-mb 1024]

Prints JSON: per file the outcome, seconds and peak RSS (MB), and the worst of each.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.hostile.corpus import write_corpus  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--memory-mb", type=int, default=1024)
    args = parser.parse_args()
    env = {"PYTHONPATH": f"{REPO / 'src'}:{REPO}"}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        expected = write_corpus(Path(tmp) / "all")
        for name in sorted(expected):
            one = Path(tmp) / name.replace(".", "-")
            one.mkdir()
            (one / name).write_bytes((Path(tmp) / "all" / name).read_bytes())
            cmd = [
                sys.executable,
                "-m",
                "tests.hostile.decode_all",
                str(one),
                "--memory-mb",
                str(args.memory_mb),
            ]
            run = subprocess.run(
                cmd, env=env, capture_output=True, text=True, timeout=300, check=False, cwd=REPO
            )
            row = (
                json.loads(run.stdout.splitlines()[-1])
                if run.returncode == 0
                else {"name": name, "outcome": f"exit {run.returncode}"}
            )
            row["expected"] = expected[name]
            rows.append(row)
    worst_s = max(r.get("seconds", 0) for r in rows)
    worst_mb = max(r.get("peak_rss_mb", 0) for r in rows)
    print(json.dumps({"files": rows, "worst_seconds": worst_s, "worst_peak_rss_mb": worst_mb,
                      "within_bounds": worst_s <= 2.0 and worst_mb <= 1024}, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
