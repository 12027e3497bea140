"""One path shape everywhere (root + relative path); an ambiguous relative path is an error, not a pick."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import pixseek.models.registry as registry
from pixseek.cli import app
from pixseek.errors import AmbiguousPathError
from pixseek.services import Index
from pixseek.settings import Settings
from pixseek.web import create_app
from tests.fakes import FakeEmbedder
from tests.indexing.images import make_tree

SAME = "animals/badger.png"  # present under both roots, with different pixels


@pytest.fixture
def two_roots(tmp_path: Path) -> tuple[Path, Path, Path]:
    first, second = tmp_path / "first", tmp_path / "second"
    make_tree(first, [SAME, "animals/cat.png"])
    make_tree(second, [SAME, "plants/tree.png"], first_seed=7)
    db = tmp_path / "db"
    index = Index(db, embedder=FakeEmbedder())
    index.add(first, workers=0)
    index.add(second, workers=0)
    return first, second, db


def test_python_api_refuses_an_ambiguous_relative_path_and_lists_both(
    two_roots: tuple[Path, Path, Path],
) -> None:
    first, second, db = two_roots
    index = Index(db, embedder=FakeEmbedder())
    with pytest.raises(AmbiguousPathError) as caught:
        index.search(like=SAME)
    assert sorted(caught.value.matches) == sorted([str(first / SAME), str(second / SAME)])
    with pytest.raises(AmbiguousPathError):
        index.get(SAME)
    assert index.get(str(second / SAME)).root == str(second)  # the full path is unambiguous
    assert index.get("animals/cat.png").root == str(first)  # a relative path held once still works
    hits = index.search(like=str(first / SAME), k=3)
    assert {(h.root, h.path) for h in hits} == {
        (str(second), SAME), (str(first), "animals/cat.png"), (str(second), "plants/tree.png"),
    }  # fmt: skip
    assert {h.full_path for h in hits} == {str(second / SAME), str(first / "animals/cat.png"),
                                           str(second / "plants/tree.png")}  # fmt: skip


@pytest.fixture
def client(two_roots: tuple[Path, Path, Path], tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(db=two_roots[2], max_k=50)
    index = Index(settings.db, settings=settings, embedder=FakeEmbedder())
    with TestClient(create_app(settings, index=index)) as c:
        yield c


def test_http_gives_409_with_the_matches(client: TestClient, two_roots: tuple[Path, Path, Path]) -> None:
    first, second, _ = two_roots
    for response in (
        client.post("/search", data={"like": SAME}),
        client.get("/image", params={"path": SAME}),
    ):
        assert response.status_code == 409, response.text
        body = response.json()
        assert sorted(body["detail"]["matches"]) == sorted([str(first / SAME), str(second / SAME)])
        assert SAME in body["error"]


def test_http_results_carry_root_and_relative_path(
    client: TestClient, two_roots: tuple[Path, Path, Path]
) -> None:
    first, second, _ = two_roots
    results = client.post("/search", data={"like": str(first / SAME), "k": 10}).json()["results"]
    assert {(r["root"], r["path"]) for r in results} == {
        (str(second), SAME), (str(first), "animals/cat.png"), (str(second), "plants/tree.png"),
    }  # fmt: skip


def test_cli_json_has_the_same_shape_and_the_same_error(
    two_roots: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second, db = two_roots
    monkeypatch.setattr(registry, "load_embedder", lambda name_or_path, *, settings: FakeEmbedder())
    runner = CliRunner()
    ok = runner.invoke(app, ["search", "--like", str(second / SAME), "--db", str(db), "--json", "-k", "1"])
    (hit,) = json.loads(ok.stdout)["results"]
    assert set(hit) == {"id", "root", "path", "score", "label"}
    assert Path(hit["root"]) / hit["path"] in {
        first / SAME,
        first / "animals/cat.png",
        second / "plants/tree.png",
    }
    bad = runner.invoke(app, ["search", "--like", SAME, "--db", str(db), "--json"])
    assert bad.exit_code == 1
    payload = json.loads(bad.stdout)
    assert sorted(payload["detail"]["matches"]) == sorted([str(first / SAME), str(second / SAME)])
