"""Decide what an indexing run must do: compare the scan with the catalog, find renames and copies.

Pure functions over records, so every incremental rule is testable without files or a model.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from pixseek.catalog import ImageRecord
from pixseek.indexing.scan import FileEntry

Kind = Literal["added", "updated", "renamed", "touched"]
DEFERRED_HASH = ""  # a Target's content_hash until the worker that reads the file reports it


@dataclass(frozen=True, slots=True)
class Target:
    """One catalog row to write for a file found on disk."""

    entry: FileEntry
    id: str
    content_hash: str
    kind: Kind  # touched = new mtime, same bytes: counted as unchanged


@dataclass(frozen=True, slots=True)
class Reuse:
    """A row whose vector is copied from an existing catalog row with the same content."""

    target: Target
    source: ImageRecord


@dataclass
class Diff:
    unchanged: list[ImageRecord] = field(default_factory=list)
    candidates: list[tuple[FileEntry, ImageRecord | None]] = field(default_factory=list)  # new or changed
    missing: list[ImageRecord] = field(default_factory=list)
    # New content for sure (an ETag no catalog row has): hashed by the worker that reads it anyway.
    deferred: list[tuple[FileEntry, ImageRecord | None]] = field(default_factory=list)


@dataclass
class Plan:
    unchanged: int = 0
    reuse: list[Reuse] = field(default_factory=list)
    embed: list[list[Target]] = field(default_factory=list)  # groups of identical files: decode the first
    remove: list[ImageRecord] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (relative path, reason)


def new_id() -> str:
    return uuid.uuid4().hex[:16]


def diff(files: Sequence[FileEntry], existing: Sequence[ImageRecord]) -> Diff:
    """Split scanned files by (size, mtime_ns, and the ETag when listed with one) against the rows already
    indexed under the same root. A row without an ETag is re-checked once the listing gives one."""
    by_path = {r.path: r for r in existing}
    out = Diff()
    for entry in files:
        row = by_path.pop(entry.path, None)
        if (
            row is not None
            and row.size == entry.size
            and row.mtime_ns == entry.mtime_ns
            and (entry.etag is None or row.etag == entry.etag)
        ):
            out.unchanged.append(row)
        else:
            out.candidates.append((entry, row))
    out.missing = sorted(by_path.values(), key=lambda r: r.path)
    return out


def defer_by_etag(d: Diff, known_etags: set[str]) -> Diff:
    """Move out of `candidates` every file whose ETag no catalog row has: its bytes are new, so hashing it
    up front (one more full read from the store) buys nothing; the worker that decodes it hashes it.

    Files without an ETag (local files) and those whose ETag is known (possible renames, copies and
    touched objects) stay, to be hashed first. The same content re-uploaded in parts of another size has
    another ETag: it is then embedded again, which costs time but gives the same vector.
    """
    keep: list[tuple[FileEntry, ImageRecord | None]] = []
    for entry, row in d.candidates:
        new_content = entry.etag is not None and entry.etag not in known_etags
        (d.deferred if new_content else keep).append((entry, row))
    d.candidates = keep
    return d


def resolve(
    d: Diff,
    hashes: Sequence[str | OSError],
    known: Mapping[str, ImageRecord],
    *,
    make_id: Callable[[], str] = new_id,
) -> Plan:
    """Turn candidates (with their content hashes) into reuses and embedding groups.

    `known` maps content hash -> any catalog row (any root) whose vector is valid for that content.
    A new path whose hash belongs to a missing row is a rename: the row keeps its id and vector.
    """
    plan = Plan(unchanged=len(d.unchanged))
    missing_by_hash: dict[str, ImageRecord] = {}
    for row in d.missing:
        missing_by_hash.setdefault(row.content_hash, row)
    renamed_ids: set[str] = set()
    groups: dict[str, list[Target]] = {}
    for (entry, row), digest in zip(d.candidates, hashes, strict=True):
        if isinstance(digest, OSError):
            plan.failed.append((entry.path, f"cannot read: {digest.strerror or digest}"))
            continue
        if row is not None and row.content_hash == digest:
            plan.reuse.append(Reuse(Target(entry, row.id, digest, "touched"), row))
            continue
        gone = missing_by_hash.get(digest)
        if row is None and gone is not None and gone.id not in renamed_ids:
            renamed_ids.add(gone.id)
            plan.reuse.append(Reuse(Target(entry, gone.id, digest, "renamed"), gone))
            continue
        kind: Kind = "updated" if row is not None else "added"
        target = Target(entry, row.id if row is not None else make_id(), digest, kind)
        source = known.get(digest)
        if source is not None:
            plan.reuse.append(Reuse(target, source))
        else:
            groups.setdefault(digest, []).append(target)
    for entry, row in d.deferred:  # grouped by ETag: the same ETag is the same bytes
        new_kind: Kind = "updated" if row is not None else "added"
        target = Target(entry, row.id if row is not None else make_id(), DEFERRED_HASH, new_kind)
        groups.setdefault(f"etag:{entry.etag}", []).append(target)
    plan.embed = list(groups.values())
    plan.remove = [r for r in d.missing if r.id not in renamed_ids]
    return plan
