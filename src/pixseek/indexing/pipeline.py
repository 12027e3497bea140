"""One indexing run: scan, diff, hash, reuse, decode (workers), embed, commit, sweep, compact."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from pixseek.catalog import Catalog, ImageRecord
from pixseek.catalog.lease import RENEW_EVERY
from pixseek.catalog.schema import rows_table
from pixseek.errors import ImageReadError, PixseekError, StorageError
from pixseek.indexing.decode import decode_stream
from pixseek.indexing.plan import DEFERRED_HASH, Plan, Target, defer_by_etag, diff, resolve
from pixseek.indexing.report import IndexReport, RunProgress
from pixseek.indexing.scan import FileEntry
from pixseek.indexing.sources import LocalSource, ObjectFile, Source, decode_items, hash_source_files
from pixseek.types import Embedder, LoadedImage

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]  # (files done, files to embed)
OnProgress = Callable[[RunProgress], None]
Embedded = tuple[LoadedImage | ImageReadError, np.ndarray | None]  # (decoded or why not, its vector)

# Below this many files to decode, starting worker processes costs more than it saves.
MIN_FILES_FOR_WORKERS = 32


@dataclass(frozen=True)
class RunOptions:
    """How a run is carried out; none of these change its result."""

    batch_size: int = 32
    workers: int = 0  # decode processes; 0 = decode threads in this process
    include_hidden: bool = False
    commit_rows: int = 256  # commit when this many rows are pending ...
    commit_seconds: float = 2.0  # ... or this long after the last commit, whichever comes first
    hash_threads: int = 4

    @property
    def prefetch(self) -> int:
        return max(2 * self.batch_size, 4 * self.workers)


# Turns files into vectors, yielding one Embedded per item in input order: local processes or Ray. `writes`
# gives, per item, the rows to append for it (new rows only); a stage that can write rows itself (Ray
# workers, into an object-store catalog) does so and yields (LoadedImage, None) for them.
Writes = Sequence[list[ImageRecord]]
EmbedStage = Callable[[Sequence[Path | ObjectFile], RunOptions, Writes | None], Iterator[Embedded]]
CHANGED_WHILE_INDEXED = "changed while it was being indexed; the next run indexes it"


def record_for(
    target: Target, root: str, width: int, height: int, content_hash: str | None = None
) -> ImageRecord:
    """The row for `target`; `content_hash` is what the worker hashed when hashing was deferred to it."""
    e = target.entry
    digest = target.content_hash if target.content_hash != DEFERRED_HASH else content_hash
    if not digest:
        raise PixseekError(f"{e.path}: no content hash was computed for it (a bug in the embed stage)")
    return ImageRecord(
        id=target.id,
        root=root,
        path=e.path,
        size=e.size,
        mtime_ns=e.mtime_ns,
        content_hash=digest,
        width=width,
        height=height,
        label=e.label,
        etag=e.etag,
    )


class _Committer:
    """Buffers finished rows and writes them in atomic batches: new ids appended, old ids replaced."""

    def __init__(
        self, catalog: Catalog, existing_ids: set[str], opts: RunOptions, on_commit: Callable[[int], None]
    ) -> None:
        self._catalog = catalog
        self._on_commit = on_commit
        self._existing = existing_ids
        self._opts = opts
        self._records: list[ImageRecord] = []
        self._vectors: list[np.ndarray] = []
        self._last = self._renewed = time.monotonic()
        self.seconds = 0.0  # spent writing

    def put(self, record: ImageRecord, vector: np.ndarray) -> None:
        self._records.append(record)
        self._vectors.append(vector)

    def maybe_flush(self) -> None:
        due = time.monotonic() - self._last >= self._opts.commit_seconds
        if len(self._records) >= self._opts.commit_rows or (due and self._records):
            self.flush()

    def flush(self) -> None:
        start = time.perf_counter()
        if self._records:
            dim = self._catalog.meta.dim
            old = [i for i, r in enumerate(self._records) if r.id in self._existing]
            new = [i for i, r in enumerate(self._records) if r.id not in self._existing]
            for idx, write in ((old, self._catalog.upsert), (new, self._catalog.append)):
                if idx:
                    vectors = np.stack([self._vectors[i] for i in idx])
                    write(rows_table([self._records[i] for i in idx], vectors, dim))
            self._on_commit(len(self._records))
            self._records, self._vectors = [], []
            self._renewed = time.monotonic()  # every write renews the lease first
        self._last = time.monotonic()
        self.seconds += time.perf_counter() - start

    def keep_alive(self) -> None:
        """Renew the write lease now and then while the workers write and this process does not."""
        renew = self._catalog.before_write
        if renew is not None and time.monotonic() - self._renewed >= RENEW_EVERY:
            renew()
            self._renewed = time.monotonic()


def plan_run(
    catalog: Catalog, source: Source, opts: RunOptions
) -> tuple[Plan, list[tuple[str, str]], dict[str, float]]:
    """List the source and work out what to do; returns the plan, listing errors and stage seconds."""
    t0 = time.perf_counter()
    scanned = source.scan(include_hidden=opts.include_hidden)
    t1 = time.perf_counter()
    existing = catalog.records()
    d = diff(scanned.files, [r for r in existing if r.root == source.root])
    defer_by_etag(d, {r.etag for r in existing if r.etag})  # read new objects once: hash where decoded
    t2 = time.perf_counter()
    hashes = hash_source_files(source, [entry.path for entry, _ in d.candidates], threads=opts.hash_threads)
    known = {r.content_hash: r for r in existing}
    seconds = {"list": t1 - t0, "diff": t2 - t1, "hash": time.perf_counter() - t2}
    return resolve(d, hashes, known), scanned.errors, seconds


def _embed_slots(embedder: Embedder, slots: list[LoadedImage | ImageReadError]) -> Iterator[Embedded]:
    """One model call for the decoded images among `slots`; failures pass through in place."""
    images = [s for s in slots if isinstance(s, LoadedImage)]
    vectors = iter(embedder.embed_pixels(np.stack([img.pixels for img in images])) if images else ())
    for slot in slots:
        yield (slot, next(vectors)) if isinstance(slot, LoadedImage) else (slot, None)


def local_stage(embedder: Embedder) -> EmbedStage:
    """Decode in worker processes (bounded prefetch) while this process runs the model in batches."""

    def stage(
        paths: Sequence[Path | ObjectFile], opts: RunOptions, writes: Writes | None = None
    ) -> Iterator[Embedded]:
        """Yields vectors for every file: this process commits them (`writes` is not for a local stage)."""
        workers = opts.workers if len(paths) >= MIN_FILES_FOR_WORKERS else 0
        slots: list[LoadedImage | ImageReadError] = []
        decoded = 0
        for result in decode_stream(paths, embedder.image_loader(), workers=workers, prefetch=opts.prefetch):
            slots.append(result)
            decoded += isinstance(result, LoadedImage)
            if decoded >= opts.batch_size:
                yield from _embed_slots(embedder, slots)
                slots, decoded = [], 0
        yield from _embed_slots(embedder, slots)

    return stage


def run_index(
    catalog: Catalog,
    embedder: Embedder,
    source: Source | Path,
    opts: RunOptions,
    *,
    progress: Progress | None = None,
    stage: EmbedStage | None = None,
    on_progress: OnProgress | None = None,
) -> IndexReport:
    """Bring the catalog in line with `source` (a Source, or a folder). The caller holds the write lock;
    kill -9 safe at any point."""
    started = time.perf_counter()
    if isinstance(source, Path):
        source = LocalSource(source)
    root_key = source.root
    plan, scan_errors, planning = plan_run(catalog, source, opts)
    report = IndexReport(unchanged=plan.unchanged, removed=len(plan.remove), stage_seconds=planning)
    report.failed = [{"path": _location(root_key, p), "error": e} for p, e in scan_errors + plan.failed]
    targets = [r.target for r in plan.reuse] + [t for group in plan.embed for t in group]
    existing_ids = {t.id for t in targets if t.kind != "added"}
    counts = RunProgress(listed=plan.unchanged + len(targets) + len(plan.failed))
    counts.to_embed = sum(len(g) for g in plan.embed)
    notify = _notifier(counts, progress, on_progress)

    def committed(rows: int) -> None:
        counts.committed += rows
        notify()

    notify()
    committer = _Committer(catalog, existing_ids, opts, committed)
    _write_reused(catalog, plan, committer, report, root_key)

    # 2. New content: decode, embed once per distinct content, write every copy.
    embed_started = time.perf_counter()
    embedded = 0
    stage = stage or local_stage(embedder)
    items = decode_items(source, [group[0].entry.path for group in plan.embed])
    for group, (decoded, vector) in zip(
        plan.embed, stage(items, opts, _new_rows(plan, root_key)), strict=True
    ):
        counts.embedded += len(group)
        result = decoded
        if vector is not None and _changed_since_listed(source, group[0].entry):
            result = ImageReadError(group[0].entry.path, CHANGED_WHILE_INDEXED)
        if isinstance(result, ImageReadError):
            report.failed.extend(
                {"path": _location(root_key, t.entry.path), "error": result.reason} for t in group
            )
        else:
            embedded += 1
            report.reused += len(group) - 1  # copies of the same content share the one embedding
            for t in group:
                _count(report, t.kind)
                if vector is not None:
                    committer.put(
                        record_for(t, root_key, result.width, result.height, result.content_hash), vector
                    )
            if vector is None:  # the stage's workers appended these rows themselves
                report.worker_rows += len(group)
                counts.committed += len(group)
            committer.maybe_flush()
        committer.keep_alive()
        notify()
    committer.flush()
    sweep_started = time.perf_counter()

    _sweep(catalog, plan)
    report.seconds = time.perf_counter() - started
    report.stage_seconds |= {
        "read_decode_embed": sweep_started - embed_started - committer.seconds,
        "commit": committer.seconds,
        "sweep_compact": time.perf_counter() - sweep_started,
    }
    report.embedded = embedded
    report.images_per_second = embedded / report.seconds if report.seconds > 0 else 0.0
    return report


def _sweep(catalog: Catalog, plan: Plan) -> None:
    """Stage 3: remove deleted files' rows, stamp the run, compact (only if rows were written).

    Compacting only tidies what is committed, so its failure (a disk that filled up meanwhile) is a
    warning: the run is complete, and a script retrying a failed exit would redo it for nothing."""
    catalog.delete([r.id for r in plan.remove])
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    catalog.set_meta(replace(catalog.meta, last_indexed=now))
    try:
        catalog.compact(images=bool(plan.reuse or plan.embed or plan.remove))
    except StorageError as exc:  # not IndexBusyError: a writer that lost its lease still stops
        log.warning("every row is committed, but compacting the index failed (%s); the next run that "
                    "changes rows compacts it", exc)  # fmt: skip


def _changed_since_listed(source: Source, entry: FileEntry) -> bool:
    """Whether a local file was rewritten (or removed) after it was listed and hashed: then the vector may
    be of other bytes than its row's hash and size describe, so that row is not written this run."""
    if not isinstance(source, LocalSource):
        return False  # an object is read once, by the worker that hashes it
    try:
        st = (source.folder / entry.path).stat()
    except OSError:
        return True
    return st.st_size != entry.size or st.st_mtime_ns != entry.mtime_ns


def _new_rows(plan: Plan, root: str) -> list[list[ImageRecord]]:
    """Per embedding group, the rows a writing stage may append itself: only groups of new files (an
    update replaces a row, which stays with this process's commits). Width, height and (when deferred)
    the content hash are filled in by the worker."""
    return [
        [_template(t, root) for t in group] if all(t.kind == "added" for t in group) else []
        for group in plan.embed
    ]


def _template(t: Target, root: str) -> ImageRecord:
    e = t.entry
    return ImageRecord(t.id, root, e.path, e.size, e.mtime_ns, t.content_hash, 0, 0, e.label, e.etag)


def _notifier(
    counts: RunProgress, progress: Progress | None, on_progress: OnProgress | None
) -> Callable[[], None]:
    """One call that feeds both progress callbacks from the live counts."""

    def notify() -> None:
        if progress:
            progress(counts.embedded, counts.to_embed)
        if on_progress:
            on_progress(counts)

    return notify


def _write_reused(
    catalog: Catalog, plan: Plan, committer: _Committer, report: IndexReport, root: str
) -> None:
    """Stage 1: rows whose vectors the catalog already holds (renames, touched files, copies)."""
    sources = catalog.vectors_for(sorted({r.source.id for r in plan.reuse}))
    for reuse in plan.reuse:
        t, src = reuse.target, reuse.source
        committer.put(record_for(t, root, src.width, src.height), sources[src.id])
        _count(report, t.kind)
        report.reused += t.kind != "touched"  # a touched file keeps its own row: nothing new written
    committer.flush()


def _location(root: str, path: str) -> str:
    """Where a file is, for messages: the root joined with the relative path (the root itself for '')."""
    return f"{root}/{path}" if path else root


def _count(report: IndexReport, kind: str) -> None:
    if kind == "touched":
        report.unchanged += 1
    else:
        setattr(report, kind, getattr(report, kind) + 1)
