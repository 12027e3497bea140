"""The incremental rules, on records alone: unchanged, changed, touched, renamed, copied, removed."""

from __future__ import annotations

import itertools

from pixseek.catalog import ImageRecord
from pixseek.indexing.plan import diff, resolve
from pixseek.indexing.scan import FileEntry


def _row(i: str, path: str, digest: str, size: int = 10, mtime: int = 1) -> ImageRecord:
    return ImageRecord(i, "/r", path, size, mtime, digest, 4, 3, None)


def _ids():
    counter = itertools.count()
    return lambda: f"new{next(counter)}"


def test_rules() -> None:
    existing = [
        _row("u", "same.png", "hu"),
        _row("c", "changed.png", "hc"),
        _row("t", "touched.png", "ht"),
        _row("m", "old-name.png", "hm"),
        _row("d", "deleted.png", "hd"),
    ]
    files = [
        FileEntry("same.png", 10, 1),
        FileEntry("changed.png", 11, 2),
        FileEntry("touched.png", 10, 5),
        FileEntry("new-name.png", 10, 1),
        FileEntry("fresh1.png", 10, 1),
        FileEntry("fresh2.png", 10, 1),
        FileEntry("copy-of-same.png", 10, 1),
    ]
    d = diff(files, existing)
    assert [r.id for r in d.unchanged] == ["u"]
    assert [r.id for r in d.missing] == ["d", "m"]
    hashes = {"changed.png": "hc2", "touched.png": "ht", "new-name.png": "hm"}
    hashes |= {"fresh1.png": "hf", "fresh2.png": "hf", "copy-of-same.png": "hu"}
    digests = [hashes[e.path] for e, _ in d.candidates]
    plan = resolve(d, digests, {r.content_hash: r for r in existing}, make_id=_ids())

    assert plan.unchanged == 1
    reuse = {r.target.entry.path: (r.target.kind, r.target.id, r.source.id) for r in plan.reuse}
    assert reuse == {
        "touched.png": ("touched", "t", "t"),
        "new-name.png": ("renamed", "m", "m"),
        "copy-of-same.png": ("added", "new2", "u"),
    }
    groups = [[(t.entry.path, t.kind, t.id) for t in g] for g in plan.embed]
    assert groups == [
        [("changed.png", "updated", "c")],
        [("fresh1.png", "added", "new0"), ("fresh2.png", "added", "new1")],  # identical: embedded once
    ]
    assert [r.id for r in plan.remove] == ["d"]


def test_rename_claims_a_missing_row_once() -> None:
    existing = [_row("m", "gone.png", "h")]
    files = [FileEntry("x.png", 10, 1), FileEntry("y.png", 10, 1)]
    d = diff(files, existing)
    plan = resolve(d, ["h", "h"], {"h": existing[0]}, make_id=_ids())
    kinds = sorted((r.target.kind, r.target.id) for r in plan.reuse)
    assert kinds == [("added", "new0"), ("renamed", "m")]
    assert plan.remove == [] and plan.embed == []


def test_unreadable_candidates_fail_without_touching_their_row() -> None:
    existing = [_row("c", "a.png", "h")]
    d = diff([FileEntry("a.png", 99, 9)], existing)
    plan = resolve(d, [PermissionError(13, "Permission denied")], {}, make_id=_ids())
    assert plan.failed == [("a.png", "cannot read: Permission denied")]
    assert plan.remove == [] and plan.reuse == [] and plan.embed == []
