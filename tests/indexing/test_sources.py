"""Sources: a local folder and an S3 prefix (a real moto_server on 127.0.0.1) list and read the same tree."""

from __future__ import annotations

from pathlib import Path

import pytest

from pixseek.errors import FolderNotFoundError
from pixseek.indexing.sources import LocalSource, ObjectStoreSource, is_object_store, open_source
from tests.indexing.images import make_tree
from tests.s3_server import S3Server

TREE = ["animals/cat.png", "animals/birds/owl.jpg", "food/apple.png", "top.png"]


@pytest.mark.parametrize(
    ("location", "expected"),
    [("s3://bucket/prefix", True), ("gs://b/p", True), ("az://c/p", True), ("/data/photos", False),
     ("photos", False), ("C:\\photos", False), ("file.png", False)],
)  # fmt: skip
def test_is_object_store(location: str, expected: bool) -> None:
    assert is_object_store(location) is expected


def test_a_missing_local_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FolderNotFoundError, match="no such folder"):
        open_source(tmp_path / "nope")


def test_s3_prefix_lists_and_reads_like_the_folder(
    tmp_path: Path, s3_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "photos"
    written = make_tree(folder, TREE)
    (folder / "notes.txt").write_text("not an image")
    (folder / ".hidden").mkdir()
    (folder / ".hidden/secret.png").write_bytes(written["top.png"].read_bytes())
    client = s3_server.client()
    client.create_bucket(Bucket="photos-bucket")
    s3_server.upload_tree("photos-bucket", "set/one", folder)
    client.put_object(Bucket="photos-bucket", Key="set/other/elsewhere.png", Body=b"x")  # outside the prefix
    for key, value in s3_server.env.items():
        monkeypatch.setenv(key, value)

    local = open_source(folder)
    remote = open_source("s3://photos-bucket/set/one")
    assert isinstance(local, LocalSource) and isinstance(remote, ObjectStoreSource)
    assert remote.root == "s3://photos-bucket/set/one"
    local_files, remote_files = local.scan().files, remote.scan().files
    assert [f.path for f in remote_files] == sorted(TREE) == [f.path for f in local_files]
    assert [f.size for f in remote_files] == [written[p].stat().st_size for p in sorted(TREE)]
    assert all(f.mtime_ns > 0 for f in remote_files)
    assert {f.label for f in remote_files} == {"animals", "food", None}
    assert remote.read("animals/birds/owl.jpg") == written["animals/birds/owl.jpg"].read_bytes()
    assert [f.path for f in remote.scan(include_hidden=True).files] == sorted([*TREE, ".hidden/secret.png"])


def test_storage_options_override_the_environment(tmp_path: Path, s3_server: S3Server) -> None:
    folder = tmp_path / "photos"
    make_tree(folder, ["a/1.png"])
    s3_server.client().create_bucket(Bucket="opts-bucket")
    s3_server.upload_tree("opts-bucket", "p", folder)
    options = {"endpoint": s3_server.endpoint, "access_key": "testing", "secret_key": "testing",
               "region": "us-east-1"}  # fmt: skip
    source = open_source("s3://opts-bucket/p", storage_options=options)
    assert [f.path for f in source.scan().files] == ["a/1.png"]
