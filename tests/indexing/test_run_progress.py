"""Live counts for a progress display: listed, to embed, embedded and committed, never going backwards."""

from __future__ import annotations

import itertools
import shutil
from dataclasses import astuple
from pathlib import Path

from pixseek.services import Index
from tests.fakes import FakeEmbedder
from tests.indexing.images import make_tree


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
