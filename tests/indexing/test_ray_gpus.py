"""GPU actors: each asks for its share of the cluster's GPUs and loads the model with the CUDA provider;
on a CPU-only cluster nothing changes. (No GPU here: the choices are checked, not the speed.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from pixseek.indexing import ray_runner
from pixseek.services.writing import ray_stage_for
from pixseek.settings import Settings
from tests.fakes import FakeEmbedder


@pytest.mark.parametrize(
    ("cluster_gpus", "actors", "share"),
    [(0, 4, 0.0), (8, 4, 1.0), (4, 4, 1.0), (2, 4, 0.5), (1, 3, 1 / 3), (1, 0, 0.0)],
)
def test_each_actor_gets_its_share_of_the_gpus(cluster_gpus: float, actors: int, share: float) -> None:
    assert ray_runner.gpus_per_actor(cluster_gpus, actors) == pytest.approx(share)


def test_gpu_actors_load_the_model_with_the_cuda_provider_first(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict = {}
    monkeypatch.setattr(ray_runner, "ray_stage", lambda factory, **kw: seen.update(factory=factory, **kw))
    settings = Settings(db=Path("/tmp/x.db"))
    ray_stage_for(
        Path("/tmp/x.db"), None, 2, FakeEmbedder(), model_ref="efficientnet-lite0", settings=settings
    )
    assert seen["factory"].keywords["settings"].providers == ("CPUExecutionProvider",)
    assert seen["gpu_factory"].keywords["settings"].providers == (
        "CUDAExecutionProvider",
        "CPUExecutionProvider",
    )
    assert seen["writer"] is None  # a local catalog


def test_an_injected_model_travels_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict = {}
    monkeypatch.setattr(ray_runner, "ray_stage", lambda factory, **kw: seen.update(factory=factory, **kw))
    embedder = FakeEmbedder()
    ray_stage_for(Path("/tmp/x.db"), None, 1, embedder, model_ref=None, settings=Settings())
    assert seen["factory"]() is embedder and "gpu_factory" not in seen
