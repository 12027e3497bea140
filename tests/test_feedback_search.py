"""Relevance feedback through pixseek.Index, POST /search and `pixseek search --more/--less`."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from pixseek.catalog import Catalog, ImageRecord, IndexMeta
from pixseek.catalog.schema import rows_table
from pixseek.cli import app
from pixseek.errors import QueryError
from pixseek.services import Index, SearchFilter
from pixseek.settings import Settings
from pixseek.web import create_app
from tests.fakes import FakeEmbedder

DIM = 16
N = 300


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """300 rows in 6 clusters; label = cluster."""
    rng = np.random.default_rng(5)
    centres = rng.standard_normal((6, DIM))
    cluster = np.arange(N) % 6
    x = centres[cluster] + 0.7 * rng.standard_normal((N, DIM))
    vectors = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    path = tmp_path_factory.mktemp("feedback") / "db"
    catalog = Catalog.create(path, IndexMeta("fake", "fake", FakeEmbedder(dim=DIM).fingerprint, DIM))
    records = [
        ImageRecord(f"r{i:03d}", "/photos", f"c{c}/{i}.png", 1, 1, "h", 1, 1, f"c{c}")
        for i, c in enumerate(cluster)
    ]
    catalog.append(rows_table(records, vectors, DIM))
    return path


@pytest.fixture(scope="module")
def index(db: Path) -> Index:
    return Index(db)


def _brute(index: Index, query: np.ndarray, k: int, hide: set[str]) -> list[str]:
    a = index.arrays()
    s = a.vectors @ query
    order = sorted(range(len(s)), key=lambda i: (-s[i], i))
    return [a.ids[i] for i in order if a.ids[i] not in hide][:k]


def test_marked_images_are_left_out_unless_asked_for(index: Index) -> None:
    hits = index.search(like="r000", k=10, positive=["r006", "r012"], negative=["r001"])
    ids = [h.id for h in hits]
    assert len(ids) == 10 and not {"r000", "r006", "r012", "r001"} & set(ids)
    shown = index.search(like="r000", k=10, positive=["r006", "r012"], negative=["r001"], include_marked=True)
    assert [h.id for h in shown][:2] in (["r006", "r012"], ["r012", "r006"])  # known relevant first
    assert "r000" not in [h.id for h in shown]  # the like term still excludes itself


def test_a_like_term_marked_relevant_is_shown_when_marks_are(index: Index) -> None:
    marks = {"like": "r000", "k": 10, "positive": ["r000", "r006"]}
    assert "r000" not in [h.id for h in index.search(**marks)]
    shown = [h.id for h in index.search(**marks, include_marked=True)]
    assert sorted(shown[:2]) == ["r000", "r006"]  # both known relevant, so first


def test_marked_images_shown_still_obey_the_filters(index: Index) -> None:
    """r001 is in cluster c1 and r006 in c0 (row i is in c{i % 6}): with a c0 filter, only r006 is shown."""
    from pixseek.search import SearchFilter

    shown = index.search(
        like="r000", k=10, positive=["r006", "r001"], include_marked=True, filters=SearchFilter(label="c0")
    )
    assert shown[0].id == "r006"
    assert {h.label for h in shown} == {"c0"}


def test_one_relevant_mark_alone_searches_like_it(index: Index) -> None:
    """maxsim with a single anchor and nothing else is plain similarity to that mark."""
    _, vector = index.stored("r042")
    hits = index.search(k=8, positive=["r042"])
    assert [h.id for h in hits] == _brute(index, vector, 8, {"r042"})


def test_rocchio_equals_a_search_by_the_hand_moved_query(index: Index) -> None:
    q, p, n = (index.stored(i)[1].astype(np.float64) for i in ("r000", "r006", "r001"))
    moved = q + 0.75 * p - 0.15 * n
    moved /= np.linalg.norm(moved)
    hits = index.search(like="r000", k=10, positive=["r006"], negative=["r001"], feedback="rocchio")
    assert [h.id for h in hits] == _brute(index, moved.astype(np.float32), 10, {"r000", "r006", "r001"})
    assert hits[0].score == pytest.approx(float(index.stored(hits[0].id)[1] @ moved), abs=1e-5)


def test_feedback_respects_filters_and_paths_name_marks(index: Index) -> None:
    hits = index.search(like="r000", k=5, positive=["c0/6.png"], filters=SearchFilter(label="c3"))
    assert hits and all(h.label == "c3" for h in hits)


def test_bad_marks_are_query_errors(index: Index) -> None:
    with pytest.raises(QueryError, match="'nope' is neither an id nor an indexed path"):
        index.search(like="r000", positive=["nope"])
    with pytest.raises(QueryError, match="at most 200 relevant and 200 irrelevant marks"):
        index.search(like="r000", negative=[f"r{i:03d}" for i in range(201)])
    with pytest.raises(QueryError, match="needs a query or at least one image marked relevant"):
        index.search(negative=["r001"])
    with pytest.raises(QueryError, match="unknown feedback method 'best'"):
        index.search(like="r000", positive=["r006"], feedback="best")


def test_feedback_past_ram_agrees_with_the_in_memory_path(db: Path, tmp_path: Path) -> None:
    """The same request over the compressed index (vectors on disk) gives the same top results."""
    import shutil

    copy = tmp_path / "db"
    shutil.copytree(db, copy)
    past_ram = Index(copy, settings=Settings(compressed_threshold=1000))
    past_ram.settings.compressed_threshold = 300  # below the floor Settings allows, to reach 300 rows
    in_ram = Index(copy)
    want = [h.id for h in in_ram.search(like="r000", k=5, positive=["r006"], negative=["r001"])]
    got = [h.id for h in past_ram.search(like="r000", k=5, positive=["r006"], negative=["r001"])]
    assert past_ram._matrix().vectors is None
    assert len(set(want) & set(got)) >= 4


def test_many_probes_past_ram_share_one_rescore_budget(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each probe (the query and every relevant mark) searches the compressed index; their refine depth is
    lowered so that together they re-score about RESCORE_BUDGET rows, where each read its own full refine."""
    import shutil

    from pixseek.search.compressed import CompressedIndex
    from pixseek.services import feedback

    copy = tmp_path / "db"
    shutil.copytree(db, copy)
    past_ram = Index(copy, settings=Settings(compressed_threshold=1000))
    past_ram.settings.compressed_threshold = 300
    marks = {"like": "r000", "k": 5, "positive": ["r006", "r012", "r018"], "negative": ["r001"]}
    want = [h.id for h in Index(copy).search(**marks)]
    depths: list[int] = []
    search = CompressedIndex.search
    monkeypatch.setattr(
        CompressedIndex, "search", lambda self, *a, **kw: depths.append(self.refine) or search(self, *a, **kw)
    )
    full = [h.id for h in past_ram.search(**marks)]
    assert depths == [50]  # one batched search: 4 probes x 30 candidates (k 5, 5 hidden, 4 per hit)
    monkeypatch.setattr(feedback, "RESCORE_BUDGET", 4 * 30 * 3)
    lowered = [h.id for h in past_ram.search(**marks)]
    assert depths == [50, 3]
    assert len(set(want) & set(full)) >= 4 and len(set(want) & set(lowered)) >= 4


@pytest.fixture
def client(db: Path) -> TestClient:
    settings = Settings(db=db)
    with TestClient(
        create_app(settings, index=Index(db, settings=settings, embedder=FakeEmbedder(dim=DIM)))
    ) as c:
        yield c


def test_http_marks_as_repeated_form_fields_or_query_parameters(client: TestClient, index: Index) -> None:
    want = [h.id for h in index.search(like="r000", k=6, positive=["r006", "r012"], negative=["r001"])]
    form = client.post(
        "/search", data={"like": "r000", "k": "6", "positive": ["r006", "r012"], "negative": "r001"}
    )
    assert form.status_code == 200, form.text
    assert [r["id"] for r in form.json()["results"]] == want
    query = client.post(
        "/search?like_unused=1&k=6&positive=r006&positive=r012&negative=r001", data={"like": "r000"}
    )
    assert [r["id"] for r in query.json()["results"]] == want
    shown = client.post(
        "/search", data={"like": "r000", "positive": "r006", "include_marked": "true", "k": "3"}
    )
    assert shown.json()["results"][0]["id"] == "r006"


def test_http_marks_alone_and_bad_marks(client: TestClient) -> None:
    alone = client.post("/search", data={"positive": "r042", "k": "3"})
    assert alone.status_code == 200 and "r042" not in [r["id"] for r in alone.json()["results"]]
    bad = client.post("/search", data={"like": "r000", "positive": "nope"})
    assert bad.status_code in (400, 404) and "nope" in bad.json()["error"]
    unknown = client.post("/search", data={"like": "r000", "positive": "r006", "feedback": "best"})
    assert unknown.status_code == 400 and "unknown feedback method 'best'" in unknown.json()["error"]
    nothing = client.post("/search", data={"negative": "r001"})
    assert nothing.status_code == 400


def test_cli_more_and_less(db: Path) -> None:
    args = [
        "search",
        "--db",
        str(db),
        "--like",
        "r000",
        "-k",
        "5",
        "--more",
        "r006",
        "--less",
        "r001",
        "--json",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    ids = [r["id"] for r in json.loads(result.stdout)["results"]]
    assert len(ids) == 5 and not {"r000", "r006", "r001"} & set(ids)
    assert math.isfinite(json.loads(result.stdout)["results"][0]["score"])


def test_marks_alone_pass_through_a_query_only_adapter(db: Path, tmp_path: Path) -> None:
    """The marks are the query, so a query-only adapter maps them as it maps a query: this one sends every
    query q to -q (q + q A, A = -2 I), so one relevant mark alone searches like its opposite."""
    import shutil

    from pixseek.catalog import AdapterRecord

    copy = tmp_path / "db"
    shutil.copytree(db, copy)
    flip = -2 * np.eye(DIM, dtype=np.float32)
    fingerprint = FakeEmbedder(dim=DIM).fingerprint
    record = AdapterRecord("query-residual", fingerprint, ("c0", "c1"), N, "2026-12-01T00:00:00+00:00", flip)
    Catalog.open(copy).set_adapter(record)
    index = Index(copy)
    _, vector = index.stored("r042")
    hits = index.search(k=8, positive=["r042"])
    assert [h.id for h in hits] == _brute(index, -vector, 8, {"r042"})
    plain = index.search(k=8, positive=["r042"], use_adapter=False)
    assert [h.id for h in plain] == _brute(index, vector, 8, {"r042"})
