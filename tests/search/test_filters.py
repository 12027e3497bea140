"""Filters by label, folder prefix and path glob."""

from __future__ import annotations

import pytest

from pixseek.search import SearchFilter, matching_rows

PATHS = ["animals/cat.png", "animals/birds/owl.jpg", "animalsX/dog.png", "food/apple.PNG", "top.png"]
LABELS = ["animals", "animals", "animalsX", "food", None]


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        (SearchFilter(label="animals"), [0, 1]),
        (SearchFilter(folder="animals"), [0, 1]),  # not animalsX: a folder, not a string prefix
        (SearchFilter(folder="animals/birds/"), [1]),
        (SearchFilter(path_glob="*.png"), [0, 2, 4]),  # case-sensitive glob
        (SearchFilter(path_glob="*.[pP][nN][gG]"), [0, 2, 3, 4]),
        (SearchFilter(label="animals", path_glob="*.jpg"), [1]),
        (SearchFilter(label="nothing"), []),
    ],
)
def test_matching_rows(flt: SearchFilter, expected: list[int]) -> None:
    rows = matching_rows(flt, PATHS, LABELS)
    assert rows is not None
    assert rows.tolist() == expected


def test_no_filter_means_all_rows() -> None:
    assert matching_rows(None, PATHS, LABELS) is None
    assert matching_rows(SearchFilter(), PATHS, LABELS) is None
