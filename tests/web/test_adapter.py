"""POST /search uses the catalog's query adapter unless `adapter=false`; /info shows it."""

from __future__ import annotations

import numpy as np
from fastapi.testclient import TestClient

from pixseek.catalog import AdapterRecord, Catalog
from pixseek.services import Index
from tests.fakes import FakeEmbedder


def _ranking(index: Index, query: np.ndarray, exclude: str) -> list[str]:
    arrays = index.arrays()
    order = np.argsort(-(arrays.vectors @ query), kind="stable")
    return [arrays.ids[i] for i in order if arrays.ids[i] != exclude]


def test_search_is_adapted_unless_asked_not_to(web_index: Index, client: TestClient) -> None:
    dim = FakeEmbedder().dim
    matrix = 3 * np.random.default_rng(0).standard_normal((dim, dim)).astype(np.float32)  # a strong map
    created = "2026-11-29T00:00:00+00:00"
    record = AdapterRecord(
        "query-residual", FakeEmbedder().fingerprint, ("animals", "food"), 5, created, matrix
    )
    Catalog.open(web_index.db).set_adapter(record)
    own_id, q = web_index.stored("animals/cat.png")
    adapted_q = (q + q @ matrix) / np.linalg.norm(q + q @ matrix)
    adapted, frozen = _ranking(web_index, adapted_q, own_id), _ranking(web_index, q, own_id)
    assert adapted != frozen
    got = client.post("/search", data={"like": "animals/cat.png", "k": 5}).json()["results"]
    assert [r["id"] for r in got] == adapted
    got = client.post("/search", data={"like": "animals/cat.png", "k": 5, "adapter": "false"}).json()[
        "results"
    ]
    assert [r["id"] for r in got] == frozen
    got = client.post("/search?adapter=false", data={"like": "animals/cat.png", "k": 5}).json()["results"]
    assert [r["id"] for r in got] == frozen
    info = client.get("/info").json()
    assert info["adapter"] == {"method": "query-residual", "trained_on": 5, "classes": ["animals", "food"],
                               "created": created}  # fmt: skip


def test_info_says_null_without_an_adapter(client: TestClient) -> None:
    assert client.get("/info").json()["adapter"] is None
