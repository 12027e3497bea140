"""Fail when pyproject.toml and requirements/ci.txt disagree: run `bash scripts/lock.sh` to mend.

Every requirement of the package and of the extras the tests install must be pinned in the lock, at a
version its specifier admits. Offline and instant: it reads the two files, it resolves nothing.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[1]
TESTED_EXTRAS = ("torch", "offline", "ray", "dev")


def pins(lock_text: str) -> dict[str, Version]:
    """name -> pinned version, from a pip-compile / uv pip compile output."""
    out: dict[str, Version] = {}
    for raw in lock_text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        req = Requirement(line)
        (spec,) = req.specifier  # a lock pins exactly one version per package
        out[canonicalize_name(req.name)] = Version(spec.version)
    return out


def problems(pyproject: dict, locked: dict[str, Version]) -> list[str]:
    project = pyproject["project"]
    wanted = list(project["dependencies"])
    for extra in TESTED_EXTRAS:
        wanted += project["optional-dependencies"][extra]
    found: list[str] = []
    for text in wanted:
        req = Requirement(text)
        if req.marker is not None and not req.marker.evaluate({"python_version": "3.11"}):
            continue
        name = canonicalize_name(req.name)
        if name not in locked:
            found.append(f"{req.name} is required by pyproject.toml but not pinned in the lock")
        elif not req.specifier.contains(locked[name], prereleases=True):
            found.append(f"{req.name}: the lock pins {locked[name]}, outside pyproject's {req.specifier}")
    return found


def main() -> int:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    locked = pins((REPO / "requirements" / "ci.txt").read_text(encoding="utf-8"))
    found = problems(pyproject, locked)
    for line in found:
        print(f"lock out of date: {line}; run `bash scripts/lock.sh`", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
