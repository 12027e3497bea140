"""Plan rules at their edges: ids, read errors without a strerror, rows that share a hash."""

from __future__ import annotations

import itertools
import re

import pytest

from pixseek.catalog import ImageRecord
from pixseek.indexing.plan import diff, new_id, resolve
from pixseek.indexing.scan import FileEntry


def _row(i: str, path: str, digest: str, size: int = 10, mtime: int = 1) -> ImageRecord:
    return ImageRecord(i, "/r", path, size, mtime, digest, 4, 3, None)


def _ids():
    counter = itertools.count()
    return lambda: f"new{next(counter)}"


def test_new_ids_are_16_hex_digits_and_distinct() -> None:
    ids = {new_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(re.fullmatch(r"[0-9a-f]{16}", i) for i in ids)


def test_a_read_error_without_strerror_is_reported_by_its_text() -> None:
    d = diff([FileEntry("a.png", 1, 1)], [])
    plan = resolve(d, [OSError("device vanished")], {}, make_id=_ids())
    assert plan.failed == [("a.png", "cannot read: device vanished")]


def test_same_size_new_mtime_is_a_candidate_and_same_mtime_new_size_too() -> None:
    existing = [_row("a", "a.png", "ha", size=10, mtime=1), _row("b", "b.png", "hb", size=10, mtime=1)]
    d = diff([FileEntry("a.png", 10, 2), FileEntry("b.png", 11, 1)], existing)
    assert d.unchanged == [] and [row.id for _, row in d.candidates] == ["a", "b"]


def test_two_missing_rows_with_one_content_give_one_rename_and_one_removal() -> None:
    """Two deleted copies, one new file with their content: the first copy (by path) is renamed."""
    existing = [_row("x", "old-b.png", "h"), _row("y", "old-a.png", "h")]
    d = diff([FileEntry("new.png", 10, 1)], existing)
    plan = resolve(d, ["h"], {"h": existing[0]}, make_id=_ids())
    assert [(r.target.kind, r.target.id, r.source.id) for r in plan.reuse] == [("renamed", "y", "y")]
    assert [r.id for r in plan.remove] == ["x"]


def test_a_changed_file_whose_new_content_exists_elsewhere_reuses_that_vector() -> None:
    """An updated file keeps its id; its vector is copied from the row that already has the content."""
    existing = [_row("c", "c.png", "old"), _row("o", "other.png", "new")]
    d = diff([FileEntry("c.png", 99, 9), FileEntry("other.png", 10, 1)], existing)
    plan = resolve(d, ["new"], {"new": existing[1]}, make_id=_ids())
    assert [(r.target.kind, r.target.id, r.source.id) for r in plan.reuse] == [("updated", "c", "o")]
    assert plan.embed == [] and plan.remove == [] and plan.unchanged == 1


def test_an_unreadable_file_does_not_stop_the_files_after_it() -> None:
    d = diff([FileEntry("a.png", 1, 1), FileEntry("b.png", 1, 1)], [])
    plan = resolve(d, [PermissionError(13, "Permission denied"), "hb"], {}, make_id=_ids())
    assert plan.failed == [("a.png", "cannot read: Permission denied")]
    assert [[(t.entry.path, t.kind, t.id, t.content_hash) for t in g] for g in plan.embed] == [
        [("b.png", "added", "new0", "hb")]
    ]


def test_hashes_must_match_the_candidates_one_to_one() -> None:
    """A short hash list would silently leave files out of the plan."""
    d = diff([FileEntry("a.png", 1, 1), FileEntry("b.png", 1, 1)], [])
    with pytest.raises(ValueError):
        resolve(d, ["ha"], {}, make_id=_ids())


def test_a_rename_keeps_the_content_hash_on_its_target() -> None:
    d = diff([FileEntry("new.png", 10, 1)], [_row("m", "old.png", "hm")])
    plan = resolve(d, ["hm"], {}, make_id=_ids())
    (reuse,) = plan.reuse
    assert (reuse.target.kind, reuse.target.id, reuse.target.content_hash) == ("renamed", "m", "hm")


def test_a_touched_file_keeps_its_content_hash_on_its_target() -> None:
    """New mtime, same bytes: the row is rewritten with the same id and the same hash."""
    d = diff([FileEntry("t.png", 10, 5)], [_row("t", "t.png", "ht")])
    plan = resolve(d, ["ht"], {}, make_id=_ids())
    (reuse,) = plan.reuse
    assert (reuse.target.kind, reuse.target.id, reuse.target.content_hash) == ("touched", "t", "ht")
