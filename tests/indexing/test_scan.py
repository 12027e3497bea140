"""Walking a folder: extensions in any case, hidden entries, symlinks without loops."""

from __future__ import annotations

from pathlib import Path

from pixseek.indexing import scan


def _touch(path: Path, data: bytes = b"x") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def test_extensions_any_case_and_labels(tmp_path: Path) -> None:
    names = ["a.jpg", "b.JPEG", "c.Png", "d.webp", "e.BMP", "f.gif", "g.tif", "h.TIFF", "i.avif"]
    for n in names:
        _touch(tmp_path / "cls" / n)
    for n in ["notes.txt", "x.svg", "noext", "y.jpg.bak"]:
        _touch(tmp_path / "cls" / n)
    _touch(tmp_path / "top.png", b"12345")
    result = scan(tmp_path)
    assert [f.path for f in result.files] == sorted(["top.png"] + [f"cls/{n}" for n in names])
    top = next(f for f in result.files if f.path == "top.png")
    assert top.size == 5 and top.label is None
    assert all(f.label == "cls" for f in result.files if f.path != "top.png")
    assert result.errors == []


def test_hidden_skipped_unless_asked(tmp_path: Path) -> None:
    _touch(tmp_path / ".cache" / "a.png")
    _touch(tmp_path / "ok" / ".hidden.png")
    _touch(tmp_path / "ok" / "b.png")
    assert [f.path for f in scan(tmp_path).files] == ["ok/b.png"]
    hidden = [f.path for f in scan(tmp_path, include_hidden=True).files]
    assert hidden == [".cache/a.png", "ok/.hidden.png", "ok/b.png"]


def test_symlinks_followed_without_loops(tmp_path: Path) -> None:
    root = tmp_path / "root"
    _touch(root / "a" / "x.png")
    outside = tmp_path / "outside"
    _touch(outside / "y.png")
    (root / "a" / "loop").symlink_to(root)  # points back up: must not recurse forever
    (root / "linked").symlink_to(outside)  # a folder elsewhere: followed
    (root / "alias.png").symlink_to(root / "a" / "x.png")  # a file link: indexed under its own name
    (root / "broken.png").symlink_to(tmp_path / "nowhere.png")
    result = scan(root)
    assert [f.path for f in result.files] == ["a/x.png", "alias.png", "linked/y.png"]
    assert [p for p, _ in result.errors] == ["broken.png"]


def test_two_links_to_one_folder_are_walked_once(tmp_path: Path) -> None:
    _touch(tmp_path / "real" / "z.png")
    (tmp_path / "again").symlink_to(tmp_path / "real")
    assert len(scan(tmp_path).files) == 1


def test_pipes_and_devices_named_like_images_are_reported_not_read(tmp_path: Path) -> None:
    """A named pipe blocked the run forever in its open; a link to /dev/zero read forever."""
    import os

    (tmp_path / "a").mkdir()
    _touch(tmp_path / "a" / "real.png")
    os.mkfifo(tmp_path / "a" / "pipe.png")
    (tmp_path / "a" / "zero.png").symlink_to("/dev/zero")
    found = scan(tmp_path)
    assert [f.path for f in found.files] == ["a/real.png"]
    assert sorted(found.errors) == [
        ("a/pipe.png", "not a regular file (a pipe, socket or device)"),
        ("a/zero.png", "not a regular file (a pipe, socket or device)"),
    ]
