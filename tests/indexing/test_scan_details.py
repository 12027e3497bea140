"""Scan details the main tests leave open: sizes through file links, error reasons, unreadable folders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pixseek.indexing.scan import FileEntry, scan


def test_a_file_link_reports_its_target_size_and_mtime(tmp_path: Path) -> None:
    (tmp_path / "real.png").write_bytes(b"12345678")
    os.utime(tmp_path / "real.png", ns=(1_000_000_000, 2_000_000_000))
    (tmp_path / "alias.png").symlink_to(tmp_path / "real.png")
    entries = {f.path: f for f in scan(tmp_path).files}
    assert entries["alias.png"] == FileEntry("alias.png", 8, 2_000_000_000)
    assert entries["real.png"] == FileEntry("real.png", 8, 2_000_000_000)


def test_a_broken_link_is_reported_with_its_reason(tmp_path: Path) -> None:
    (tmp_path / "gone.png").symlink_to(tmp_path / "nowhere.png")
    result = scan(tmp_path)
    assert result.files == []
    assert result.errors == [("gone.png", "cannot stat: No such file or directory")]


def test_an_unlistable_folder_is_reported_and_the_walk_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Permission denied on a folder (as a non-root user gets) must not stop the scan of the others.

    The first sub-folder listed is the one that fails, whichever the filesystem order makes it, so
    the other folders are still waiting to be walked when it does.
    """
    for folder in ["a", "b", "c"]:
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "x.png").write_bytes(b"x")
    real_scandir = os.scandir
    refused: list[str] = []

    def scandir(path: Path):  # type: ignore[no-untyped-def]
        if Path(path) != tmp_path and not refused:
            refused.append(Path(path).name)
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    result = scan(tmp_path)
    assert result.errors == [(refused[0], "cannot list folder: Permission denied")]
    assert [f.path for f in result.files] == [f"{d}/x.png" for d in "abc" if d != refused[0]]


def test_nested_folders_give_slash_joined_paths_and_first_level_labels(tmp_path: Path) -> None:
    (tmp_path / "a" / "b" / "c").mkdir(parents=True)
    (tmp_path / "a" / "b" / "c" / "deep.png").write_bytes(b"x")
    (entry,) = scan(tmp_path).files
    assert entry.path == "a/b/c/deep.png" and entry.label == "a"
