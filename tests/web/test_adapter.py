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
                               "created": created, "strength": 0.0, "neighbours": 0, "mix": 0.0}  # fmt: skip


def test_info_says_null_without_an_adapter(client: TestClient) -> None:
    assert client.get("/info").json()["adapter"] is None


def test_a_class_posterior_adapter_re_scores_the_results_by_the_extended_cosine(
    web_index: Index, client: TestClient
) -> None:
    """(<q, x> + s^2 <p(q), p(x)>) / (1 + s^2), p = normalise(softmax(x W^T + b)), written out here; the
    index holds fewer images than the re-scored pool, so the expected ranking covers every row."""
    arrays = web_index.arrays()
    far = arrays.vectors[int(np.argmin(arrays.vectors @ web_index.stored("animals/cat.png")[1]))]
    weights = 20 * np.stack([far, -far]).astype(np.float32)  # a "class" around the image least like the query
    bias, strength = np.array([0.0, 0.0], np.float32), 1.5
    record = AdapterRecord(
        "class-posterior", FakeEmbedder().fingerprint, ("animals", "food"), 5, "2026-11-30T00:00:00+00:00",
        np.column_stack([weights, bias]), strength,
    )  # fmt: skip
    Catalog.open(web_index.db).set_adapter(record)
    own_id, q = web_index.stored("animals/cat.png")

    def p(x: np.ndarray) -> np.ndarray:
        x = x / np.linalg.norm(x, axis=-1, keepdims=True)
        logits = x @ weights.T + bias
        e = np.exp(logits - logits.max(axis=-1, keepdims=True))
        return e / np.linalg.norm(e, axis=-1, keepdims=True)

    v = arrays.vectors / np.linalg.norm(arrays.vectors, axis=1, keepdims=True)
    qn = q / np.linalg.norm(q)
    scores = (v @ qn + strength**2 * (p(v) @ p(qn))) / (1 + strength**2)
    order = [i for i in np.argsort(-scores, kind="stable") if arrays.ids[i] != own_id][:5]
    got = client.post("/search", data={"like": "animals/cat.png", "k": 5}).json()["results"]
    assert [r["id"] for r in got] == [arrays.ids[i] for i in order]
    np.testing.assert_allclose([r["score"] for r in got], scores[order], rtol=1e-4, atol=1e-5)
    frozen = client.post("/search", data={"like": "animals/cat.png", "k": 5, "adapter": "false"}).json()
    assert [r["id"] for r in frozen["results"]] == _ranking(web_index, q, own_id)[:5]
    assert [r["id"] for r in frozen["results"]] != [r["id"] for r in got]
