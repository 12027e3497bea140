"""`pixseek bench search`: the serving path at N synthetic vectors, measured against exact search."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from pixseek.catalog import Catalog
from pixseek.cli import app
from pixseek.services import search_bench
from pixseek.services.search_bench import SearchBenchOptions

runner = CliRunner()
KEYS = {"n", "index", "build_seconds", "p50_ms", "p99_ms", "recall_at_10", "rss_mb", "bytes_on_disk"}


def _bench(*args: str) -> dict:
    result = runner.invoke(app, ["bench", "search", "--json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_exact_search_has_perfect_recall_and_the_documented_keys(tmp_path: Path) -> None:
    out = _bench(
        "--n", "3000", "--dim", "16", "--queries", "20", "--index", "exact", "--keep", str(tmp_path / "db")
    )
    assert set(out) >= KEYS
    assert (out["n"], out["index"], out["queries"]) == (3000, "exact", 20)
    assert out["recall_at_10"] == 1.0  # the serving path's exact search equals the streamed ground truth
    assert 0 < out["p50_ms"] <= out["p99_ms"]
    assert 0 < out["warm_p50_ms"] <= out["warm_p99_ms"]
    assert out["rss_mb"] > 0
    assert Catalog.open(tmp_path / "db").count() == 3000
    assert out["bytes_on_disk"] >= 3000 * 16 * 2  # float16 vectors at the least


def test_auto_picks_the_compressed_index_at_its_threshold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIXSEEK_COMPRESSED_THRESHOLD", "2000")
    out = _bench("--n", "4000", "--dim", "32", "--queries", "30", "--keep", str(tmp_path / "db"))
    assert out["index"] == "ivf-pq"
    assert out["recall_at_10"] >= 0.8  # 4 rows a cluster in 32-d: hard; recall is pinned in test_compressed
    names = {p.name for p in (tmp_path / "db").iterdir()}
    assert any(n.startswith("pq-v") for n in names) and any(n.startswith("vectors-v") for n in names)


def test_a_keep_folder_that_exists_is_refused(tmp_path: Path) -> None:
    result = runner.invoke(app, ["bench", "search", "--n", "1000", "--keep", str(tmp_path)])
    assert result.exit_code != 0
    assert f"{tmp_path} exists; give a new folder to --keep" in result.output


def test_bad_choices_are_one_line(tmp_path: Path) -> None:
    result = runner.invoke(app, ["bench", "search", "--n", "1000", "--data", "gaussian"])
    assert result.exit_code != 0
    assert "--data is clustered or random" in result.output


def test_the_data_is_normalised_reproducible_and_clustered_when_asked() -> None:
    opts = SearchBenchOptions(n=20_000, dim=128, data="clustered")
    first = np.concatenate([v for _, v in search_bench.synthetic_chunks(opts)])
    again = np.concatenate([v for _, v in search_bench.synthetic_chunks(opts)])
    np.testing.assert_array_equal(first, again)
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
    rand = np.concatenate(
        [v for _, v in search_bench.synthetic_chunks(SearchBenchOptions(n=20_000, dim=128, data="random"))]
    )
    # clustered rows have close neighbours; uniform rows on the sphere do not
    best_clustered = np.sort(first[:100] @ first.T, axis=1)[:, -2].mean()
    best_random = np.sort(rand[:100] @ rand.T, axis=1)[:, -2].mean()
    assert best_clustered > best_random + 0.1


def test_streamed_truth_equals_a_direct_top_k(tmp_path: Path) -> None:
    opts = SearchBenchOptions(n=2500, dim=16, queries=15)
    queries = search_bench.build_catalog(tmp_path / "db", opts)
    catalog = Catalog.open(tmp_path / "db")
    snap = catalog.snapshot()
    truth = search_bench.exact_truth(catalog, snap.version, queries)
    scores = queries @ snap.vectors.T
    direct = np.argsort(-scores, axis=1, kind="stable")[:, :10]
    assert truth.tolist() == direct.tolist()
