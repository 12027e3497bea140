"""`Index.duplicates`, the CLI command and GET /duplicates on a small real index (fake model): planted
copies are grouped, look-alikes are not, exact copies always are, unreadable files are reported."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from typer.testing import CliRunner

import pixseek.models.registry as registry
from pixseek.cli import app
from pixseek.errors import QueryError
from pixseek.services import Index
from pixseek.settings import Settings
from pixseek.web import create_app
from tests.duplicates.conftest import PLANTED
from tests.duplicates.pictures import (
    coin,
    drawing,
    flag,
    half,
    more_contrast,
    poster,
    save_jpeg,
    save_png,
    spinning_top,
)
from tests.fakes import FakeEmbedder, flipping_adapter


def _groups(report) -> list[set[str]]:
    return [{h.path for h in g.hits} for g in report.groups]


def test_planted_copies_are_grouped_and_look_alikes_are_not(index: Index) -> None:
    report = index.duplicates()
    assert sorted(_groups(report), key=len, reverse=True) == PLANTED
    assert all(0.88 <= g.min_score <= 1.0 for g in report.groups)
    assert report.unreadable == []
    # the fake model does propose i and l (and more) for the pixel check; pixels turn them down
    assert report.proposed > sum(len(g) * (len(g) - 1) // 2 for g in PLANTED)


def test_the_i_and_the_l_are_proposed_by_the_model_and_turned_down_by_pixels(index: Index) -> None:
    hits = index.search(like="letters/i.png", k=1)
    assert hits[0].path == "letters/l.png"  # nearest neighbours ...
    assert hits[0].score >= 0.5  # ... above the documented cosine floor, so the pair is proposed
    assert not any({"letters/i.png", "letters/l.png"} & g for g in _groups(index.duplicates()))


def test_a_stricter_threshold_never_groups_more(index: Index) -> None:
    def pairs(threshold: float) -> set[frozenset[str]]:
        return {
            frozenset((x, y))
            for g in _groups(index.duplicates(threshold=threshold))
            for x in g
            for y in g
            if x != y
        }

    loose, default, strict = pairs(0.5), pairs(0.88), pairs(0.999)
    assert strict <= default <= loose
    assert frozenset(("art/a.png", "copies/a.png")) in strict


def test_a_copy_whose_file_is_gone_or_changed_joins_no_exact_group(index: Index, collection: Path) -> None:
    """The stored hash says what a file held when it was indexed. A copy overwritten since with another
    picture (or deleted) must not be listed as an exact copy: a user deleting "the copy" would lose the only
    real one. It is reported as changed; the untouched files keep their group."""
    copy = collection / "copies/a.png"
    other = io.BytesIO()
    Image.new("RGB", (10, 10), "red").save(other, format="PNG")  # another picture, padded to the same size
    copy.write_bytes(other.getvalue().ljust(copy.stat().st_size, b"\0"))  # PIL ignores bytes after IEND
    report = index.duplicates()
    assert report.changed == [index.get("copies/a.png").id]
    assert all("copies/a.png" not in g for g in _groups(report))
    assert {"art/a.png", "edits/a-half.png", "edits/a-crop.png", "edits/a-q40.jpg"} in _groups(report)
    (collection / "copies/a.png").unlink()
    (collection / "art/a.png").unlink()
    gone = index.duplicates()
    assert sorted(gone.changed) == sorted(index.get(p).id for p in ("art/a.png", "copies/a.png"))
    assert all("copies/a.png" not in g and "art/a.png" not in g for g in _groups(gone))
    assert gone.to_dict()["changed"] == gone.changed


def test_exact_copies_of_unchanged_files_group_even_when_unreadable(index: Index, collection: Path) -> None:
    """The check is the one `pixseek index` makes, size and mtime: files that pass it keep their exact group
    by hash even when their pixels cannot be read now (bytes overwritten in place, size and mtime kept)."""
    for name in ("art/a.png", "copies/a.png"):
        path = collection / name
        stat = path.stat()
        path.write_bytes(b"x" * stat.st_size)  # same size, same mtime below: as indexed, and unreadable
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    report = index.duplicates()
    assert {"art/a.png", "copies/a.png"} in _groups(report)
    assert report.changed == []
    assert sorted(report.unreadable) == sorted(index.get(p).id for p in ("art/a.png", "copies/a.png"))
    path = collection / "copies/a.png"
    stat = path.stat()
    path.write_bytes(b"x" * (stat.st_size + 1))  # a new size under the old mtime is a change too
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert index.duplicates().changed == [index.get("copies/a.png").id]
    result = CliRunner().invoke(app, ["duplicates", "--db", str(index.db)])
    assert result.exit_code == 0, result.output
    assert f"changed: {path}" in result.stderr.splitlines()
    assert (
        "1 image is gone or changed since indexed, so it joins no exact-copy group (run pixseek index)"
        in result.stderr.splitlines()
    )


def test_an_unreadable_original_is_reported_and_its_pairs_left_out(index: Index, collection: Path) -> None:
    (collection / "edits/a-half.png").unlink()
    report = index.duplicates()
    assert {h.path for g in report.groups for h in g.hits} == (PLANTED[0] - {"edits/a-half.png"}) | PLANTED[1]
    assert report.unreadable == [index.get("edits/a-half.png").id]


def test_an_original_unreadable_at_the_second_look_is_reported_not_rejected(
    index: Index, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read once for the whole-picture check, then gone before the detail check: its pairs are left out
    and the image is `unreadable`, but no pair counts as turned down by the details."""
    from pixseek.services import duplicates as service

    gone = index.get("edits/a-half.png")
    reads: dict[int, int] = {}
    original_reader = service.original_reader

    def reader(m):
        read = original_reader(m)

        def once(row: int):
            reads[row] = reads.get(row, 0) + 1
            if m.ids[row] == gone.id and reads[row] > 1:
                raise OSError("gone")
            return read(row)

        return once

    monkeypatch.setattr(service, "original_reader", reader)
    report = index.duplicates()
    assert {h.path for g in report.groups for h in g.hits} == (PLANTED[0] - {"edits/a-half.png"}) | PLANTED[1]
    assert report.unreadable == [gone.id]
    assert report.detail_rejected == 0


@pytest.mark.parametrize(("threshold", "neighbours"), [(1.5, 10), (-2.0, 10), (0.9, 0), (0.9, 101)])
def test_bad_settings_are_one_clear_error(index: Index, threshold: float, neighbours: int) -> None:
    with pytest.raises(QueryError, match=r"^(threshold|neighbours) must be "):
        index.duplicates(threshold=threshold, neighbours=neighbours)


def test_cli_json_and_text(index: Index, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "load_embedder", lambda name, *, settings: FakeEmbedder())
    runner = CliRunner()
    result = runner.invoke(app, ["duplicates", "--db", str(tmp_path / "db"), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert list(out) == [
        "threshold", "groups", "proposed_pairs", "detail_rejected", "unreadable", "changed", "seconds",
    ]  # fmt: skip
    assert out["changed"] == []
    assert out["threshold"] == 0.88  # the documented default
    assert sorted((set(g["paths"]) for g in out["groups"]), key=len, reverse=True) == PLANTED
    for g in out["groups"]:
        assert set(g) == {"ids", "roots", "paths", "min_score"}
        assert len(g["ids"]) == len(g["roots"]) == len(g["paths"])
        assert set(g["roots"]) == {str(tmp_path / "pictures")}
        assert [index.get(i).path for i in g["ids"]] == g["paths"]
    text = runner.invoke(app, ["duplicates", "--db", str(tmp_path / "db")])
    assert text.exit_code == 0
    assert "group 1: 5 images" in text.stdout
    assert str(tmp_path / "pictures" / "copies" / "a.png") in text.stdout
    bad = runner.invoke(app, ["duplicates", "--db", str(tmp_path / "db"), "--threshold", "2", "--json"])
    assert bad.exit_code == 1
    assert json.loads(bad.stdout)["error"] == "threshold must be from -1 to 1, got 2.0"


def test_http_duplicates_same_json_cached_per_version(index: Index, tmp_path: Path) -> None:
    settings = Settings(db=tmp_path / "db")
    with TestClient(create_app(settings, index=index)) as client:
        first = client.get("/duplicates")
        assert first.status_code == 200
        body = first.json()
        assert sorted((set(g["paths"]) for g in body["groups"]), key=len, reverse=True) == PLANTED
        assert client.get("/duplicates").json() == body  # answered from memory: even `seconds` is equal
        loose = client.get("/duplicates", params={"threshold": 0.2, "neighbours": 3}).json()
        assert loose["threshold"] == 0.2
        assert sum(len(g["ids"]) for g in loose["groups"]) >= sum(len(g["ids"]) for g in body["groups"])
        assert client.get("/duplicates", params={"threshold": 1.5}).status_code == 422
        nan = client.get("/duplicates", params={"threshold": "nan"})
        assert nan.status_code == 422 and "finite number" in nan.text
        assert client.get("/duplicates", params={"neighbours": 0}).status_code == 422


def test_an_active_adapter_proposes_the_neighbours_unless_turned_off(
    index: Index, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flipping_adapter(index.db)  # each image proposes its farthest images: only exact copies stay grouped
    exact_copies_only = [{"art/a.png", "copies/a.png"}]
    assert _groups(index.duplicates()) == exact_copies_only
    assert sorted(_groups(index.duplicates(use_adapter=False)), key=len, reverse=True) == PLANTED
    monkeypatch.setattr(registry, "load_embedder", lambda name, *, settings: FakeEmbedder())
    runner = CliRunner()
    for option, want in [([], exact_copies_only), (["--no-adapter"], PLANTED)]:
        result = runner.invoke(app, ["duplicates", "--db", str(tmp_path / "db"), "--json", *option])
        assert result.exit_code == 0, result.output
        assert (
            sorted((set(g["paths"]) for g in json.loads(result.stdout)["groups"]), key=len, reverse=True)
            == want
        )
    with TestClient(create_app(Settings(db=tmp_path / "db"), index=index)) as client:
        frozen = client.get("/duplicates", params={"adapter": "false"}).json()
        assert sorted((set(g["paths"]) for g in frozen["groups"]), key=len, reverse=True) == PLANTED
        assert [set(g["paths"]) for g in client.get("/duplicates").json()["groups"]] == exact_copies_only


def test_one_drawing_with_a_different_letter_is_turned_down_by_the_detail_check(tmp_path: Path) -> None:
    root = tmp_path / "tops"
    save_png(spinning_top("L"), root / "top-l.png")
    save_jpeg(spinning_top("L"), root / "top-l.jpg", quality=40)
    save_png(spinning_top("T"), root / "top-t.png")
    index = Index(tmp_path / "db", embedder=FakeEmbedder())
    index.add(root, workers=0)
    report = index.duplicates()
    assert _groups(report) == [{"top-l.png", "top-l.jpg"}]
    assert report.detail_rejected == 2  # the T against each L: both pass 0.88 on the whole grids
    assert report.to_dict()["detail_rejected"] == 2


def test_two_coins_of_one_size_are_turned_down_by_the_structure_check(tmp_path: Path) -> None:
    root = tmp_path / "coins"
    save_png(coin(0), root / "one.png")
    save_jpeg(coin(0), root / "one.jpg", quality=40)
    save_png(coin(50), root / "other.png")
    index = Index(tmp_path / "db", embedder=FakeEmbedder())
    index.add(root, workers=0)
    report = index.duplicates()
    assert _groups(report) == [{"one.png", "one.jpg"}]
    assert report.detail_rejected == 2  # the other coin against each copy of the first


def test_the_same_flag_in_another_colour_is_turned_down_by_the_colour_check(tmp_path: Path) -> None:
    root = tmp_path / "flags"
    save_png(flag((220, 0, 0)), root / "red.png")
    save_jpeg(flag((220, 0, 0)), root / "red.jpg", quality=40)
    save_png(flag((0, 112, 0)), root / "green.png")  # the red one's grey levels
    index = Index(tmp_path / "db", embedder=FakeEmbedder())
    index.add(root, workers=0)
    report = index.duplicates()
    assert _groups(report) == [{"red.png", "red.jpg"}]
    assert report.detail_rejected == 2


def test_a_poster_with_more_contrast_is_still_the_same_poster(tmp_path: Path) -> None:
    """Contrast x1.3 pushes each colour away from grey: a cell's chromaticity moves by up to 0.19, past
    the fixed per-cell limit a red and a green flag once needed (0.15), while every hue stays."""
    root = tmp_path / "posters"
    save_png(poster(), root / "poster.png")
    save_png(more_contrast(poster()), root / "poster-contrast.png")
    index = Index(tmp_path / "db", embedder=FakeEmbedder())
    index.add(root, workers=0)
    assert _groups(index.duplicates()) == [{"poster.png", "poster-contrast.png"}]


def test_a_drawing_stretched_to_another_shape_is_turned_down_by_the_shape_check(
    tmp_path: Path,
) -> None:
    """Squeezed to square grids, a drawing 10% wider lines up with the original everywhere; only its shape
    (aspect 1.47 against 1.33) tells it apart. A halved copy keeps the shape and stays."""
    root = tmp_path / "shapes"
    save_png(drawing(7), root / "pic.png")
    save_png(half(drawing(7)), root / "pic-half.png")
    save_png(drawing(7).resize((264, 180), Image.Resampling.LANCZOS), root / "wide.png")
    index = Index(tmp_path / "db", embedder=FakeEmbedder())
    index.add(root, workers=0)
    report = index.duplicates()
    assert _groups(report) == [{"pic.png", "pic-half.png"}]
    assert report.detail_rejected == 2  # the wide one against each of the others


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        ({"threshold": 2.0}, "threshold must be from -1 to 1"),
        ({"neighbours": 0}, "neighbours must be an integer"),
    ],
)
def test_bad_limits_are_refused_before_the_index_is_read(tmp_path: Path, limits: dict, message: str) -> None:
    """An argument error names the argument, even where there is no index to read yet."""
    with pytest.raises(QueryError, match=message):
        Index(tmp_path / "nothing-here.db").duplicates(**limits)


def test_the_cli_names_the_originals_it_could_not_read(index: Index, collection: Path) -> None:
    (collection / "edits/a-half.png").unlink()
    result = CliRunner().invoke(app, ["duplicates", "--db", str(index.db)])
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[:2] == [
        f"unreadable: {collection / 'edits/a-half.png'}",
        "1 image could not be read for the pixel check; its pairs are left out",
    ]
