"""Plan details the mutation run found unguarded: what a deferred (new-ETag) file becomes."""

from __future__ import annotations

from pixseek.catalog import ImageRecord
from pixseek.indexing.plan import DEFERRED_HASH, defer_by_etag, diff, resolve
from pixseek.indexing.scan import FileEntry


def _row(row_id: str, path: str, etag: str) -> ImageRecord:
    return ImageRecord(row_id, "s3://b/p", path, 10, 5, f"hash-{row_id}", 1, 1, None, etag)


def test_a_deferred_overwrite_updates_its_row_and_a_deferred_new_object_is_added() -> None:
    """An object overwritten in place (new ETag, same key) keeps its row id and counts as updated; a new
    key gets a fresh id and counts as added. Both wait for the worker's hash."""
    files = [FileEntry("a.png", 10, 5, "etag-new"), FileEntry("b.png", 10, 5, "etag-b")]
    d = defer_by_etag(diff(files, [_row("row-a", "a.png", "etag-old")]), {"etag-old"})
    assert [entry.path for entry, _ in d.deferred] == ["a.png", "b.png"]
    plan = resolve(d, [], {}, make_id=lambda: "fresh-id")
    targets = {t.entry.path: t for group in plan.embed for t in group}
    assert (targets["a.png"].id, targets["a.png"].kind) == ("row-a", "updated")
    assert (targets["b.png"].id, targets["b.png"].kind) == ("fresh-id", "added")
    assert {t.content_hash for t in targets.values()} == {DEFERRED_HASH}
    assert plan.reuse == [] and plan.remove == []
