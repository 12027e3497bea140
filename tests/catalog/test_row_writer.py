"""Workers' own appends to an object-store catalog (a real moto_server): atomic, concurrent, and fenced by
the run's lease, so a run that lost its lease cannot write on."""

from __future__ import annotations

import pickle
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from pixseek.catalog import Catalog, ImageRecord, IndexMeta
from pixseek.catalog.lease import write_lease
from pixseek.catalog.row_writer import RowWriter
from pixseek.errors import IndexBusyError
from tests.s3_server import S3Server

META = IndexMeta(model="fake", model_ref="fake", fingerprint="fp", dim=4)


def _records(prefix: str, n: int) -> list[ImageRecord]:
    return [ImageRecord(f"{prefix}{i}", "s3://b/p", f"{prefix}/{i}.png", 1, 1, f"h{prefix}{i}", 2, 3, prefix)
            for i in range(n)]  # fmt: skip


@pytest.fixture
def remote_catalog(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> str:
    for key, value in s3_server.env.items():
        monkeypatch.setenv(key, value)
    client = s3_server.client()
    if "writer-bucket" not in {b["Name"] for b in client.list_buckets()["Buckets"]}:
        client.create_bucket(Bucket="writer-bucket")
    uri = f"s3://writer-bucket/cat-{np.random.default_rng().integers(1 << 30)}"
    Catalog.create(uri, META)
    return uri


def test_workers_append_concurrently_under_the_runs_lease(remote_catalog: str) -> None:
    with write_lease(remote_catalog) as lease:
        writer = pickle.loads(
            pickle.dumps(RowWriter(remote_catalog, lease.owner, 4))
        )  # as shipped to a worker
        vectors = np.eye(4, dtype=np.float32)[[0, 1, 2]]
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda p: RowWriter(remote_catalog, lease.owner, 4).append(_records(p, 3), vectors),
                          ["a", "b", "c", "d"]))  # fmt: skip
        writer.append(_records("e", 3), vectors)
        writer.append(_records("e", 3), vectors)  # a retried task: nothing is added twice
    cat = Catalog.open(remote_catalog)
    assert sorted(r.id for r in cat.records()) == sorted(f"{p}{i}" for p in "abcde" for i in range(3))
    stored = cat.vectors_for(["a0", "b1", "e2"])
    np.testing.assert_allclose(stored["b1"], [0, 1, 0, 0])
    np.testing.assert_allclose(stored["e2"], [0, 0, 1, 0])


def test_a_worker_of_a_run_that_lost_its_lease_writes_nothing(remote_catalog: str) -> None:
    with write_lease(remote_catalog) as lease:
        stale = RowWriter(remote_catalog, "another-host:1:deadbeef", 4)
        with pytest.raises(IndexBusyError, match="lost its write lease"):
            stale.append(_records("x", 2), np.eye(4, dtype=np.float32)[:2])
        assert lease.owner != stale.lease_owner
    assert Catalog.open(remote_catalog).records() == []
