"""Mutation testing of the modules where a silent bug costs most (mutmut 3), kept out of the default test run.

    python scripts/mutation.py --fresh                # every mutant from scratch, one worker (about 1.5 h)
    python scripts/mutation.py "pixseek.search.*"     # only mutants matching mutmut name globs; others cached
    python scripts/mutation.py --report               # the per-module table of the last run, nothing run

The modules, the tests run against them and the process isolation are `[tool.mutmut]` in pyproject.toml.
mutmut copies the project into ./mutants/, records which selected tests reach each function, then runs only
those tests against each of that function's mutants. A mutant counts as killed when a test failed or its run
timed out; the score is killed / run. Every other mutant is listed; a survivor is acceptable only when
docs/testing.md lists it as equivalent, with the reason: a bullet line naming it in backticks, where
`stem__mutmut_{3,7-9}` names several. Names listed there that no longer survive are reported too (the code
moved, or a test now kills them). Exit status: 0 when every survivor is listed there, 1 otherwise, mutmut's
own status when mutmut fails (e.g. 1 with "Failed to run clean test" when the selected tests fail unmutated).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MUTANTS = ROOT / "mutants"
DOCS = ROOT / "docs" / "testing.md"
KILLED = {1, 3, 24, -24, 36, 152, 255}  # a test failed (1), pytest internal error (3), timeouts (the rest)
STATUS = {0: "survived", 5: "no tests", 33: "no tests", -11: "segfault", -9: "SIGKILL", None: "not run"}
# In docs/testing.md, a bullet line ("- reason: `name`, ...") lists equivalent mutants; a name may end in
# a brace list of numbers and ranges, so `pixseek.search.query.x_f__mutmut_{3,7-9}` stands for 3, 7, 8, 9.
EQUIVALENT_BULLET = re.compile(r"^\s*[-*]\s")
EQUIVALENT_NAME = re.compile(
    r"`(?P<stem>pixseek\.[^`{}]+__mutmut_)(?:(?P<number>\d+)|\{(?P<numbers>[\d,\s-]+)\})`"
)


@dataclass
class ModuleScore:
    path: str
    total: int = 0
    killed: int = 0
    survivors: dict[str, str] = field(default_factory=dict)  # mutant name -> status


def module_scores() -> list[ModuleScore]:
    """One row per mutated module, from the .meta files mutmut keeps beside each mutated copy."""
    rows = []
    for meta in sorted(MUTANTS.glob("src/**/*.py.meta")):
        codes = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
        row = ModuleScore(str(meta.relative_to(MUTANTS / "src")).removesuffix(".meta"))
        for name, code in sorted(codes.items(), key=lambda item: _natural(item[0])):
            row.total += 1
            if code in KILLED:
                row.killed += 1
            else:
                row.survivors[name] = STATUS.get(code, f"exit status {code}")
        rows.append(row)
    return rows


def _natural(name: str) -> tuple[str, int]:
    stem, _, number = name.rpartition("__mutmut_")
    return stem, int(number) if number.isdigit() else 0


def documented_equivalents() -> set[str]:
    """Names listed as equivalent in docs/testing.md: each `name` or `stem_{1,4-6}` on a bullet line."""
    if not DOCS.is_file():
        return set()
    names = set()
    for line in DOCS.read_text(encoding="utf-8").splitlines():
        if EQUIVALENT_BULLET.match(line):
            for match in EQUIVALENT_NAME.finditer(line):
                names.update(expand(match))
    return names


def expand(match: re.Match[str]) -> list[str]:
    """`stem_7` -> [stem_7]; `stem_{1,4-6}` -> [stem_1, stem_4, stem_5, stem_6]."""
    if match["number"] is not None:
        return [match["stem"] + match["number"]]
    numbers: list[int] = []
    for part in match["numbers"].replace(" ", "").split(","):
        low, _, high = part.partition("-")
        numbers.extend(range(int(low), int(high or low) + 1))
    return [f"{match['stem']}{n}" for n in numbers]


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def report(rows: list[ModuleScore], equivalents: set[str]) -> int:
    """Print the table and the unexplained survivors; 1 when there are any."""
    today = datetime.now(UTC).date()
    print(f"\nMutation score, {today} (killed: a test failed, or the run timed out; score: killed / run)\n")
    print(
        "| module | mutants | not run | killed | survived | equivalent | score | score without equivalents |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    total: Counter[str] = Counter()
    for row in rows:
        not_run = sum(status == "not run" for status in row.survivors.values())
        run = row.total - not_run
        equivalent = sum(name in equivalents for name in row.survivors)
        print(
            f"| {row.path} | {row.total} | {not_run} | {row.killed} | {run - row.killed} | {equivalent} "
            f"| {_percent(row.killed, run)} | {_percent(row.killed, run - equivalent)} |"
        )
        total.update(total=row.total, run=run, killed=row.killed, equivalent=equivalent)
    if total["total"]:
        every, run, killed, equivalent = total["total"], total["run"], total["killed"], total["equivalent"]
        print(
            f"| **all** | {every} | {every - run} | {killed} | {run - killed} | {equivalent} "
            f"| {_percent(killed, run)} | {_percent(killed, run - equivalent)} |"
        )
    unexplained = [
        (name, status) for row in rows for name, status in row.survivors.items() if name not in equivalents
    ]
    survivors = {name for row in rows for name in row.survivors}
    stale = sorted(equivalents - survivors, key=_natural)
    if stale:  # the code changed (names shift) or a new test kills it: the list needs updating
        print(f"\nwarning: {len(stale)} listed as equivalent but not a survivor here (killed, or renamed):")
        for name in stale:
            print(f"  {name}")
    if unexplained:
        print(f"\n{len(unexplained)} mutants not killed and not listed as equivalent in docs/testing.md:")
        for name, status in unexplained:
            print(f"  {name}  ({status}; see it with: mutmut show '{name}')")
        return 1
    print("\nEvery mutant not killed is listed as equivalent in docs/testing.md.")
    return 0


def main() -> int:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("patterns", nargs="*", help="mutant name globs, e.g. 'pixseek.search.query.*'")
    parser.add_argument("--fresh", action="store_true", help="delete mutants/ first: a run from scratch")
    parser.add_argument("--report", action="store_true", help="only print the table of the last run")
    parser.add_argument("--jobs", type=int, default=1, help="mutmut worker processes (default 1)")
    args = parser.parse_args()

    if not args.report:
        if args.fresh:
            shutil.rmtree(MUTANTS, ignore_errors=True)
        command = ["mutmut", "run", "--max-children", str(args.jobs), *args.patterns]
        version = subprocess.run(["mutmut", "--version"], capture_output=True, text=True, check=False)
        print(f"{version.stdout.strip()}; running: {' '.join(command)}", flush=True)
        start = time.monotonic()
        done = subprocess.run(command, cwd=ROOT, check=False)
        print(f"\nmutmut took {(time.monotonic() - start) / 60:.1f} min and exited with {done.returncode}")
        if done.returncode != 0:
            return done.returncode
    if not MUTANTS.is_dir():
        print("no mutants/ folder: run without --report first", file=sys.stderr)
        return 2
    return report(module_scores(), documented_equivalents())


if __name__ == "__main__":
    sys.exit(main())
