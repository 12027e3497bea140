"""Search filters by label, folder prefix and path glob, turned into the row subset they allow."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

import numpy as np

from pixseek.errors import QueryError


@dataclass(frozen=True)
class SearchFilter:
    """Restrict results; every field given must match (they combine with AND)."""

    label: str | None = None  # exact first-level folder name
    folder: str | None = None  # relative path prefix, e.g. "animals/birds"
    path_glob: str | None = None  # fnmatch on the relative path, e.g. "*.png"

    def __post_init__(self) -> None:
        for name in ("label", "folder", "path_glob"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise QueryError(f"the {name} filter is a string, got {value!r}")

    @property
    def is_empty(self) -> bool:
        return self.label is None and self.folder is None and self.path_glob is None

    def matches(self, path: str, label: str | None) -> bool:
        if self.label is not None and label != self.label:
            return False
        if self.folder is not None:
            prefix = self.folder.strip("/")
            if prefix and not path.startswith(prefix + "/"):
                return False
        return self.path_glob is None or fnmatchcase(path, self.path_glob)


def matching_rows(
    flt: SearchFilter | None, paths: Sequence[str], labels: Sequence[str | None]
) -> np.ndarray | None:
    """Sorted indices of rows the filter allows, or None when there is no filter (all rows)."""
    if flt is None or flt.is_empty:
        return None
    keep = [i for i, (p, lab) in enumerate(zip(paths, labels, strict=True)) if flt.matches(p, lab)]
    return np.asarray(keep, dtype=np.int64)
