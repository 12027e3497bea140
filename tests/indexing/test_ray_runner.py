"""Ray Data embedding on a local Ray: the same catalog as a local run (slow: Ray start-up)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pixseek.services import Index
from tests.fakes import FakeEmbedder
from tests.indexing.images import make_tree
from tests.subprocess_env import checkout_env


@pytest.mark.slow
def test_ray_run_matches_a_local_run(tmp_path: Path) -> None:
    ray = pytest.importorskip("ray")
    folder = tmp_path / "imgs"
    make_tree(folder, [f"c{i % 2}/{i}.png" for i in range(7)])
    (folder / "c0/broken.png").write_bytes(b"nope")
    ray.init(
        address="local",  # a new cluster of this process, even if another one's address file is around
        _node_ip_address="127.0.0.1",
        num_cpus=2,
        include_dashboard=False,
        runtime_env={"env_vars": {"PYTHONPATH": checkout_env()["PYTHONPATH"]}},
    )
    try:
        distributed = Index(tmp_path / "ray.db", embedder=FakeEmbedder())
        report = distributed.add(folder, ray_actors=1, batch_size=3)
    finally:
        ray.shutdown()
    assert report.added == 7 and [Path(f["path"]).name for f in report.failed] == ["broken.png"]
    assert (
        report.ray is not None and report.ray["rows_written_by_workers"] == 0
    )  # a local catalog: the driver
    local = Index(tmp_path / "local.db", embedder=FakeEmbedder())
    local.add(folder, workers=0)
    a, b = local.arrays(), distributed.arrays()
    order = [b.paths.index(p) for p in a.paths]
    np.testing.assert_array_equal(a.vectors, b.vectors[order])
    assert sorted(r.width for r in map(distributed.get, b.ids)) == [24] * 7
