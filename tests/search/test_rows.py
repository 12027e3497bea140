"""Row metadata as Arrow arrays: lookups, filters and globs, each checked against the plain definition
(`SearchFilter.matches`, `fnmatch.fnmatchcase`, a list search) rather than against itself."""

from __future__ import annotations

from fnmatch import fnmatchcase
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pixseek.errors import AmbiguousPathError, QueryError
from pixseek.search import rows as rows_module
from pixseek.search.filters import SearchFilter
from pixseek.search.rows import RowTable, glob_regex

GLOB_CHARS = list("ab/.-]![*?^\\x")
PATH_CHARS = list("ab/.-]![^\\x")


@settings(max_examples=1500, deadline=None)
@given(
    st.text(st.sampled_from(GLOB_CHARS), max_size=8),
    st.lists(st.text(st.sampled_from(PATH_CHARS), max_size=6)),
)
def test_glob_regex_matches_exactly_what_fnmatchcase_matches(pattern: str, paths: list[str]) -> None:
    got = pc.match_substring_regex(pa.array(paths, pa.string()), pattern=glob_regex(pattern)).to_pylist()
    assert got == [fnmatchcase(p, pattern) for p in paths]


rows_strategy = st.lists(
    st.tuples(st.sampled_from(["a/x.png", "a/b/y.jpg", "b/z.png", "top.png", "a/b/c/w.PNG", "ab/q.png"]),
              st.sampled_from(["a", "b", "ab", None])),
    min_size=1, max_size=30,
)  # fmt: skip
filters_strategy = st.builds(
    SearchFilter,
    label=st.sampled_from([None, "a", "b", "zz"]),
    folder=st.sampled_from([None, "a", "a/", "/a/b", "a/b", "b", "", "ab"]),
    path_glob=st.sampled_from([None, "*.png", "a/*", "*b*", "?/*", "[ab]/*.png", "[!a]*"]),
)


@settings(max_examples=400, deadline=None)
@given(rows_strategy, filters_strategy)
def test_filters_allow_exactly_the_rows_searchfilter_matches(rows: list[tuple[str, str | None]], flt) -> None:
    table = RowTable.from_lists(
        [f"i{k}" for k in range(len(rows))], ["/r"] * len(rows), *map(list, zip(*rows, strict=True))
    )
    got = table.matching(flt)
    expected = [k for k, (path, label) in enumerate(rows) if flt.matches(path, label)]
    if flt.is_empty:
        assert got is None
    else:
        assert got.tolist() == expected


def _table() -> RowTable:
    return RowTable.from_lists(
        ["id-1", "id-2", "id-3", "id-4", "id-5"],
        ["/photos", "/photos", "/backup", "s3://bucket/set", "/"],
        ["animals/cat.png", "animals/dog.png", "animals/cat.png", "animals/owl.png", "root.png"],
        ["animals", "animals", "animals", "animals", None],
    )


def test_ids_full_paths_and_unique_relative_paths_find_their_row() -> None:
    t = _table()
    assert t.row("id-3") == 2
    assert t.row("/photos/animals/cat.png") == 0 and t.row("/backup/animals/cat.png") == 2
    assert t.row("s3://bucket/set/animals/owl.png") == 3 and t.row("animals/owl.png") == 3
    assert t.row("/root.png") == 4 and t.row("root.png") == 4
    assert t.row("animals/dog.png") == 1


def test_a_relative_path_under_two_roots_is_ambiguous_and_names_both() -> None:
    with pytest.raises(AmbiguousPathError) as info:
        _table().row("animals/cat.png")
    assert sorted(info.value.matches) == ["/backup/animals/cat.png", "/photos/animals/cat.png"]


def test_unknown_keys_are_query_errors() -> None:
    for key in ["id-9", "animals/bat.png", "/photos/animals", "/photos/", "s3://bucket/set/"]:
        with pytest.raises(QueryError, match="is neither an id nor an indexed path"):
            _table().row(key)


def test_a_path_that_resolves_to_an_indexed_file_finds_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pics").mkdir()
    (tmp_path / "pics" / "a.png").write_bytes(b"x")
    t = RowTable.from_lists(["only"], [str(tmp_path / "pics")], ["a.png"], [None])
    monkeypatch.chdir(tmp_path)
    assert t.row("./pics/../pics/a.png") == 0


def test_columns_read_like_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rows_module, "_CHUNK", 2)  # iteration crosses chunk boundaries
    t = _table()
    assert list(t.ids) == ["id-1", "id-2", "id-3", "id-4", "id-5"]
    assert t.ids[-1] == "id-5" and t.ids[1:3] == ["id-2", "id-3"] and len(t.roots) == 5
    assert list(t.labels) == ["animals"] * 4 + [None]
    assert t.roots[3] == "s3://bucket/set"
    with pytest.raises(IndexError):
        t.ids[5]
    assert t.distinct_labels() == ["animals"]


def test_metadata_costs_well_under_a_hundred_bytes_a_row() -> None:
    n = 100_000
    ids = [f"{i:016x}" for i in range(n)]
    paths = [f"{i % 997:03d}/IMG_{i:07d}.jpg" for i in range(n)]
    t = RowTable.from_lists(ids, ["/photos/library"] * n, paths, [f"{i % 997:03d}" for i in range(n)])
    assert t.nbytes / n < 100  # 16 B id, ~20 B path, 4 B codes twice, 24 B of hashes, offsets
    assert t.row(f"{0xF423:016x}") == 0xF423 and t.row(paths[77]) == 77
    assert t.matching(SearchFilter(label="042")).tolist() == list(np.arange(42, n, 997))
