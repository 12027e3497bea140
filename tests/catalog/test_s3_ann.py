"""The ANN index of an object-store catalog lives under its prefix, versioned with it: the writer builds it,
a replica loads that one instead of building its own, and its answers are the exact search's."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

import pytest

from pixseek.search import ann as ann_module
from pixseek.services import Index
from pixseek.settings import Settings
from tests.fakes import FakeEmbedder
from tests.indexing.images import make_tree, write_image
from tests.s3_server import S3Server

TREE = [f"{c}/{i}.png" for c in ("red", "green", "blue") for i in range(12)]


@pytest.fixture
def s3_db(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> str:
    for key, value in s3_server.env.items():
        monkeypatch.setenv(key, value)
    bucket = f"ann-{uuid.uuid4().hex[:12]}"  # the server lives for the session: a bucket per test
    s3_server.client().create_bucket(Bucket=bucket)
    return f"s3://{bucket}/index"


def _ann_keys(s3_server: S3Server, uri: str) -> list[str]:
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    listing = s3_server.client().list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/ann-v")
    return sorted(o["Key"].rsplit("/", 1)[1] for o in listing.get("Contents", []))


def test_a_replica_loads_the_ann_index_the_writer_saved_under_the_prefix(
    tmp_path: Path,
    s3_db: str,
    s3_server: S3Server,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = Settings(db=s3_db, ann_threshold=10)
    make_tree(tmp_path / "imgs", TREE)
    writer = Index(s3_db, settings=settings, embedder=FakeEmbedder())
    writer.add(tmp_path / "imgs", workers=0)
    version = writer.readiness().version
    assert _ann_keys(s3_server, s3_db) == [f"ann-v{version}.faiss", f"ann-v{version}.faiss.crc32"]

    def no_build(*args: object, **kwargs: object) -> None:
        raise AssertionError("the replica rebuilt the ANN index instead of loading it")

    monkeypatch.setattr(ann_module.IvfIndex, "build", classmethod(no_build))
    replica = Index(s3_db, settings=settings, embedder=FakeEmbedder())
    replica.warm()
    assert replica.readiness().ann == "ready"
    query = tmp_path / "imgs" / "green/3.png"
    approximate = replica.search(image=query, k=5)
    exact = replica.search(image=query, k=5, ann=False)
    assert [h.id for h in approximate] == [h.id for h in exact]  # all lists probed at this size
    assert approximate[0].path == "green/3.png"
    monkeypatch.undo()

    for key, value in s3_server.env.items():  # undo() dropped them too
        monkeypatch.setenv(key, value)
    write_image(tmp_path / "imgs" / "red/new.png", seed=777)
    writer.add(tmp_path / "imgs", workers=0)  # a new version: its own file, the old one deleted
    now = writer.readiness().version
    assert _ann_keys(s3_server, s3_db) == [f"ann-v{now}.faiss", f"ann-v{now}.faiss.crc32"]  # with its digest


def test_an_unreadable_saved_index_under_the_prefix_is_built_again(
    tmp_path: Path, s3_db: str, s3_server: S3Server, caplog: pytest.LogCaptureFixture
) -> None:
    """A cut-off object made every ANN search raise FAISS's RuntimeError; it is rebuilt and put again."""
    settings = Settings(db=s3_db, ann_threshold=10)
    make_tree(tmp_path / "imgs", TREE)
    writer = Index(s3_db, settings=settings, embedder=FakeEmbedder())
    writer.add(tmp_path / "imgs", workers=0)
    name, _digest = _ann_keys(s3_server, s3_db)
    client, bucket, key = s3_server.client(), s3_db.removeprefix("s3://").split("/")[0], f"index/{name}"
    whole = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    client.put_object(Bucket=bucket, Key=key, Body=whole[: len(whole) // 3])
    replica = Index(s3_db, settings=settings, embedder=FakeEmbedder())
    query = tmp_path / "imgs" / "green/3.png"
    with caplog.at_level(logging.WARNING):
        approximate = replica.search(image=query, k=5)
    assert [h.id for h in approximate] == [h.id for h in replica.search(image=query, k=5, ann=False)]
    assert any("cannot read the saved ANN index" in r.getMessage() for r in caplog.records)
    assert len(client.get_object(Bucket=bucket, Key=key)["Body"].read()) == len(whole)  # put again


def test_an_index_damaged_in_place_under_the_prefix_is_caught_by_its_digest(
    tmp_path: Path, s3_db: str, s3_server: S3Server, caplog: pytest.LogCaptureFixture
) -> None:
    """The same size, bytes changed inside: the digest object beside it no longer matches, so the replica
    builds it again (the same bytes: the build is seeded) and puts it back."""
    settings = Settings(db=s3_db, ann_threshold=10)
    make_tree(tmp_path / "imgs", TREE)
    Index(s3_db, settings=settings, embedder=FakeEmbedder()).add(tmp_path / "imgs", workers=0)
    name, _digest = _ann_keys(s3_server, s3_db)
    client, bucket, key = s3_server.client(), s3_db.removeprefix("s3://").split("/")[0], f"index/{name}"
    whole = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    middle = len(whole) // 2
    damaged = (
        whole[:middle] + bytes((b + 1) % 256 for b in whole[middle : middle + 64]) + whole[middle + 64 :]
    )
    client.put_object(Bucket=bucket, Key=key, Body=damaged)
    replica = Index(s3_db, settings=settings, embedder=FakeEmbedder())
    with caplog.at_level(logging.WARNING):
        replica.search(image=tmp_path / "imgs" / "green/3.png", k=5)
    assert any("do not match the digest" in r.getMessage() for r in caplog.records)
    assert client.get_object(Bucket=bucket, Key=key)["Body"].read() == whole
