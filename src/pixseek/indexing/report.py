"""The result of one indexing run, as returned by Index.add and printed by `pixseek index`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class IndexReport:
    """Counts per outcome. Rows are added, updated or renamed either by running the model (`embedded`) or
    from a vector the catalog already held (`reused`: renames, touched files, copies of indexed content);
    `images_per_second` counts embedded images only."""

    added: int = 0
    updated: int = 0
    renamed: int = 0
    removed: int = 0
    unchanged: int = 0
    failed: list[dict] = field(default_factory=list)  # [{"path", "error"}]
    seconds: float = 0.0
    images_per_second: float = 0.0
    embedded: int = 0
    reused: int = 0
    ray: dict | None = None  # with --ray: {"nodes", "actors", "gpus", "stage_seconds"}
    ann_seconds: float = 0.0  # after the rows: loading or building the ANN index (not in `seconds`)
    stage_seconds: dict[str, float] = field(default_factory=dict, repr=False)  # list, hash, embed, ...
    worker_rows: int = field(default=0, repr=False)  # rows the Ray workers appended themselves

    def to_dict(self) -> dict:
        out = asdict(self)
        del out["stage_seconds"], out["worker_rows"]  # reported inside "ray"; kept here for benchmarks
        return out

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.renamed or self.removed)

    @property
    def images_seen(self) -> int:
        """Image files found in the folder this run (0: nothing pixseek can read there)."""
        return self.added + self.updated + self.renamed + self.unchanged + len(self.failed)

    def summary(self) -> str:
        """One human line saying the same as to_dict()."""
        speed = f"{self.embedded} embedded at {self.images_per_second:.1f} images/s"
        return (
            f"{self.added} added, {self.updated} updated, {self.renamed} renamed, {self.removed} removed, "
            f"{self.unchanged} unchanged, {len(self.failed)} failed in {self.seconds:.1f} s "
            f"({speed}, {self.reused} vectors reused)"
            + (f"; ANN index ready in {self.ann_seconds:.1f} s" if self.ann_seconds else "")
        )


@dataclass
class RunProgress:
    """Live counts of a run, for a progress display: files listed, files to embed and those done (embedded
    or failed), and rows committed to the catalog so far (reused ones included)."""

    listed: int = 0
    to_embed: int = 0
    embedded: int = 0
    committed: int = 0
