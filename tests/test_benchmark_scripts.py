"""The benchmark scripts are how anyone reruns the figures in docs/results.md, so they must keep up with
the code they measure: `adapt_study.py` once called an adapter method a review had removed, and
`pq_sweep.py` had no --help. Every script must parse --help (slow: ~30 imports of numpy, torch, FAISS),
and the study's adapter maps must score as search does."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from types import ModuleType

import numpy as np
import pytest

from pixseek.evaluation.adapt_classes import train_classes
from pixseek.evaluation.adapters import as_adapter
from tests.subprocess_env import REPO, checkout_env

BENCHMARKS = REPO / "benchmarks"
NEEDS_TORCH = {"gpu_embed.py", "gpu_finetune.py", "gpu_pipeline.py"}


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


@pytest.mark.slow
@pytest.mark.parametrize("script", sorted(p.name for p in BENCHMARKS.glob("*.py")))
def test_every_benchmark_script_explains_itself(script: str) -> None:
    if script in NEEDS_TORCH and not (_has("torch") and _has("transformers")):
        pytest.skip("needs the [torch] extra")
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), "--help"], env=checkout_env(), capture_output=True,
        text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("usage:")


def _module(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"pixseek_bench_{name}", BENCHMARKS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("method", ["class-posterior", "class-direction"])
def test_the_adapter_study_scores_pairs_as_search_does(method: str) -> None:
    """The study ranks by query_map(q) . candidate_map(x); search by QueryAdapter.scores. Unsmoothed, as
    the study's tables are, they must agree."""
    study = _module("adapt_study")
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 32))
    labels = [str(i % 3) for i in range(90)]
    x = (centres[[int(y) for y in labels]] + rng.normal(scale=0.8, size=(90, 32))).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    query_map, candidate_map = study.fit_classes(x, np.asarray(labels), method, c=30.0, strength=0.5)
    adapter = as_adapter(train_classes(x, labels, method=method, c=30.0, strength=0.5, neighbours=0))
    for q in (0, 1, 47):
        expected = adapter.scores(x[q], x)
        assert np.allclose(candidate_map(x) @ query_map(x[q : q + 1])[0], expected, atol=1e-5)
