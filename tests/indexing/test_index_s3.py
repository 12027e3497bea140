"""Indexing an S3 prefix (a real moto_server on 127.0.0.1): the same rows and vectors as the local folder,
and every incremental change reported exactly."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from pixseek.services import Index
from tests.fakes import FakeEmbedder
from tests.indexing.images import make_tree, write_image
from tests.s3_server import S3Server

TREE = [f"{c}/{i}.png" for c in ("cats", "dogs") for i in range(4)] + ["dogs/big.jpg"]
URI = "s3://index-bucket/photos"


@pytest.fixture
def remote(tmp_path: Path, s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> Path:
    """TREE both in a local folder and under URI; the standard AWS_* variables point at the server."""
    for key, value in s3_server.env.items():
        monkeypatch.setenv(key, value)
    folder = tmp_path / "photos"
    make_tree(folder, TREE)
    client = s3_server.client()
    if "index-bucket" in {b["Name"] for b in client.list_buckets()["Buckets"]}:
        for obj in client.list_objects_v2(Bucket="index-bucket").get("Contents", []):
            client.delete_object(Bucket="index-bucket", Key=obj["Key"])
    else:
        client.create_bucket(Bucket="index-bucket")
    s3_server.upload_tree("index-bucket", "photos", folder)
    return folder


def _by_path(index: Index) -> dict[str, np.ndarray]:
    arrays = index.arrays()
    return dict(zip(arrays.paths, arrays.vectors, strict=True))


def test_an_s3_prefix_indexes_like_the_same_local_folder(tmp_path: Path, remote: Path) -> None:
    local = Index(tmp_path / "local.db", embedder=FakeEmbedder())
    local.add(remote, workers=0)
    s3 = Index(tmp_path / "s3.db", embedder=FakeEmbedder())
    report = s3.add(URI, workers=0)
    assert (report.added, report.embedded, report.failed) == (len(TREE), len(TREE), [])
    expected, got = _by_path(local), _by_path(s3)
    assert sorted(got) == sorted(TREE) == sorted(expected)
    for path in TREE:
        assert float(got[path] @ expected[path]) >= 0.999, path
    hit = s3.search(like="cats/0.png", k=1)[0]
    assert hit.root == URI and hit.full_path.startswith(URI + "/")
    assert {s3.get(p).label for p in TREE} == {"cats", "dogs"}
    assert len(s3.arrays(root=URI).ids) == len(TREE)


def test_incremental_changes_on_s3_are_reported_exactly(
    tmp_path: Path, remote: Path, s3_server: S3Server
) -> None:
    index = Index(tmp_path / "s3.db", embedder=FakeEmbedder())
    index.add(URI, workers=0)
    assert index.add(URI, workers=0).unchanged == len(TREE)
    client = s3_server.client()
    client.delete_object(Bucket="index-bucket", Key="photos/cats/0.png")  # deleted
    moved = remote / "cats/1.png"  # renamed: same bytes, new key
    client.put_object(Bucket="index-bucket", Key="photos/cats/renamed.png", Body=moved.read_bytes())
    client.delete_object(Bucket="index-bucket", Key="photos/cats/1.png")
    time.sleep(1.1)  # S3's last-modified has 1 s resolution: an overwrite must land in a later second
    changed = write_image(tmp_path / "new-content.png", seed=99)  # overwritten with new content
    client.put_object(Bucket="index-bucket", Key="photos/dogs/0.png", Body=changed.read_bytes())
    fresh = write_image(tmp_path / "fresh.png", seed=123)  # new
    client.put_object(Bucket="index-bucket", Key="photos/birds/owl.png", Body=fresh.read_bytes())
    client.put_object(Bucket="index-bucket", Key="photos/dogs/broken.png", Body=b"not a png")  # unreadable

    report = index.add(URI, workers=0)
    assert (report.added, report.updated, report.renamed, report.removed) == (1, 1, 1, 1)
    assert report.unchanged == len(TREE) - 3
    assert [f["path"] for f in report.failed] == [f"{URI}/dogs/broken.png"]
    assert report.embedded == 2  # the new and the overwritten object; the rename reused its vector
    assert sorted(index.arrays().paths) == sorted(
        [p for p in TREE if p not in {"cats/0.png", "cats/1.png"}] + ["cats/renamed.png", "birds/owl.png"]
    )


def test_a_missing_bucket_is_a_clear_error(tmp_path: Path, remote: Path) -> None:
    from pixseek.errors import FolderNotFoundError

    with pytest.raises(FolderNotFoundError, match="s3://no-such-bucket"):
        Index(tmp_path / "db", embedder=FakeEmbedder()).add("s3://no-such-bucket/x", workers=0)
    assert not (tmp_path / "db").exists()  # checked before the catalog is made: no empty index left


def test_an_overwritten_object_joins_no_exact_copy_group(
    tmp_path: Path, remote: Path, s3_server: S3Server
) -> None:
    """Duplicates check each object that shares a hash with one metadata request: an object overwritten
    since it was indexed is `changed`, not an exact copy of its old twin."""
    client = s3_server.client()
    copy = (remote / "cats/0.png").read_bytes()
    client.put_object(Bucket="index-bucket", Key="photos/cats/copy.png", Body=copy)
    index = Index(tmp_path / "s3.db", embedder=FakeEmbedder())
    index.add(URI, workers=0)
    assert {"cats/0.png", "cats/copy.png"} in [{h.path for h in g.hits} for g in index.duplicates().groups]
    time.sleep(1.1)  # S3's last-modified has 1 s resolution
    other = (remote / "dogs/1.png").read_bytes()
    client.put_object(Bucket="index-bucket", Key="photos/cats/copy.png", Body=other)
    report = index.duplicates()
    assert report.changed == [index.get("cats/copy.png").id]
    assert all("cats/copy.png" not in {h.path for h in g.hits} for g in report.groups)
