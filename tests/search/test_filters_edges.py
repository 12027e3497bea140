"""Filter edge cases: folder names with unusual characters, mismatched inputs, the empty selection."""

from __future__ import annotations

import numpy as np
import pytest

from pixseek.search import ExactIndex, SearchFilter, matching_rows


def test_only_slashes_are_trimmed_from_a_folder() -> None:
    """'XRays/' means the folder XRays: no other character may be stripped from its ends."""
    flt = SearchFilter(folder="/XRays/")
    assert flt.matches("XRays/chest.png", None)
    assert not flt.matches("Rays/chest.png", None)


def test_paths_and_labels_of_different_lengths_are_an_error() -> None:
    """A silent zip would drop rows and shift every index after them."""
    with pytest.raises(ValueError):
        matching_rows(SearchFilter(label="a"), ["a/1.png", "a/2.png"], ["a"])


def test_an_empty_selection_is_still_usable_as_row_indices() -> None:
    rows = matching_rows(SearchFilter(label="nothing"), ["a/1.png"], ["a"])
    assert rows is not None and rows.dtype == np.int64 and rows.size == 0
    _, idx = ExactIndex(np.eye(2, dtype=np.float32)).search(np.array([1.0, 0.0]), 2, rows=rows)
    assert idx.tolist() == [[-1, -1]]
