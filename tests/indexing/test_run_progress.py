"""Live counts for a progress display: listed, to embed, embedded and committed, never going backwards."""

from __future__ import annotations

import hashlib
import itertools
import shutil
from dataclasses import astuple
from pathlib import Path

from pixseek.catalog import Catalog
from pixseek.services import Index
from tests.fakes import FakeEmbedder
from tests.indexing.images import make_tree, write_image


def test_counts_follow_a_run_from_listing_to_the_last_commit(tmp_path: Path) -> None:
    folder = tmp_path / "imgs"
    make_tree(folder, ["a/1.png", "a/2.png", "b/3.png", "b/4.png"])
    shutil.copy(folder / "a/1.png", folder / "b/copy-of-1.png")  # same content: one model call, two rows
    (folder / "b/broken.png").write_bytes(b"not a png")
    seen: list[tuple[int, int, int, int]] = []
    index = Index(tmp_path / "x.db", embedder=FakeEmbedder())
    index.add(folder, workers=0, on_progress=lambda c: seen.append(astuple(c)))
    assert seen[0] == (6, 6, 0, 0)  # 6 files listed, all new, nothing done yet
    assert seen[-1] == (6, 6, 6, 5)  # every file through the model stage; 5 rows (the broken file has none)
    for before, after in itertools.pairwise(seen):
        assert all(b <= a for b, a in zip(before, after, strict=True)), (before, after)

    (folder / "a/2.png").rename(folder / "a/renamed.png")
    seen.clear()
    index.add(folder, workers=0, on_progress=lambda c: seen.append(astuple(c)))
    assert seen[-1] == (6, 1, 1, 1)  # the rename is committed from the stored vector; the broken file retried


def test_the_plain_progress_callback_still_gets_done_and_total(tmp_path: Path) -> None:
    folder = tmp_path / "imgs"
    make_tree(folder, ["1.png", "2.png", "3.png"])
    calls: list[tuple[int, int]] = []
    Index(tmp_path / "x.db", embedder=FakeEmbedder()).add(
        folder, workers=0, progress=lambda d, t: calls.append((d, t))
    )
    assert calls[0] == (0, 3) and calls[-1] == (3, 3)


def test_a_file_rewritten_while_it_is_indexed_is_not_written_and_the_next_run_gets_it(tmp_path: Path) -> None:
    """Its vector may be of other bytes than its listed size and hash: no row this run, the right one next."""
    folder = tmp_path / "imgs"
    written = make_tree(folder, ["a/1.png", "a/2.png", "b/3.png"])
    victim = written["a/2.png"]
    embedder = FakeEmbedder()
    real_loader = embedder.image_loader()

    def loader_that_races(path):  # type: ignore[no-untyped-def]
        if Path(path) == victim:
            write_image(victim, seed=999, size=(30, 20))  # rewritten between listing and decoding
        return real_loader(path)

    embedder.image_loader = lambda: loader_that_races  # type: ignore[method-assign]
    index = Index(tmp_path / "x.db", embedder=embedder)
    report = index.add(folder, workers=0)
    assert report.added == 2
    assert report.failed == [
        {"path": str(victim), "error": "changed while it was being indexed; the next run indexes it"}
    ]
    assert sorted(index.arrays().paths) == ["a/1.png", "b/3.png"]

    report = Index(tmp_path / "x.db", embedder=FakeEmbedder()).add(folder, workers=0)
    assert (report.added, report.failed) == (1, [])
    expected = hashlib.blake2b(victim.read_bytes(), digest_size=16).hexdigest()
    assert Catalog.open(tmp_path / "x.db").record(index.get("a/2.png").id).content_hash == expected
