"""ETags: an object overwritten with the same size in the same second is still re-indexed, listing through
boto3 agrees with pyarrow's, and a catalog from before ETags (schema version 1) is upgraded in place."""

from __future__ import annotations

import hashlib
import io
import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from PIL import Image

from pixseek.catalog import Catalog, ImageRecord
from pixseek.catalog.schema import IMAGES_TABLE
from pixseek.errors import FolderNotFoundError, SchemaVersionError
from pixseek.indexing import sources
from pixseek.indexing.plan import DEFERRED_HASH, defer_by_etag, diff, resolve
from pixseek.indexing.scan import FileEntry
from pixseek.indexing.sources import ObjectStoreSource
from pixseek.services import Index
from tests.fakes import FakeEmbedder
from tests.indexing.images import make_tree
from tests.s3_server import S3Server

BUCKET = "etag-bucket"
URI = f"s3://{BUCKET}/set"


def _row(etag: str | None) -> ImageRecord:
    return ImageRecord("id1", "s3://b/p", "a.png", 10, 5, "hash", 1, 1, None, etag)


@pytest.mark.parametrize(
    ("listed", "stored", "unchanged"),
    [
        ("e1", "e1", True),  # same size, mtime and ETag
        ("e2", "e1", False),  # same size and second, new bytes: only the ETag tells
        (None, "e1", True),  # a listing without ETags judges by size and mtime, as for local files
        ("e1", None, False),  # a row from before ETags is re-checked once (its content hash decides)
    ],
)
def test_the_etag_decides_when_size_and_mtime_agree(
    listed: str | None, stored: str | None, unchanged: bool
) -> None:
    d = diff([FileEntry("a.png", 10, 5, listed)], [_row(stored)])
    assert (len(d.unchanged), len(d.candidates)) == ((1, 0) if unchanged else (0, 1))


def _bmp(seed: int) -> bytes:
    """An uncompressed BMP: every 8x8 image has the same byte size, whatever its pixels."""
    pixels = np.random.default_rng(seed).integers(0, 256, size=(8, 8, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="BMP")
    return out.getvalue()


@pytest.fixture
def bucket(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch):  # -> boto3 client
    for key, value in s3_server.env.items():
        monkeypatch.setenv(key, value)
    client = s3_server.client()
    if BUCKET in {b["Name"] for b in client.list_buckets()["Buckets"]}:
        for obj in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
            client.delete_object(Bucket=BUCKET, Key=obj["Key"])
    else:
        client.create_bucket(Bucket=BUCKET)
    return client


def test_a_same_size_overwrite_within_the_same_second_is_reindexed(tmp_path: Path, bucket) -> None:
    first, second = _bmp(1), _bmp(2)
    assert len(first) == len(second) and first != second
    index = Index(tmp_path / "x.db", embedder=FakeEmbedder())
    for _attempt in range(5):  # retried only if the two puts straddle a second boundary
        bucket.put_object(Bucket=BUCKET, Key="set/a/pic.bmp", Body=first)
        before = bucket.head_object(Bucket=BUCKET, Key="set/a/pic.bmp")["LastModified"]
        index.add(URI, workers=0)
        bucket.put_object(Bucket=BUCKET, Key="set/a/pic.bmp", Body=second)
        after = bucket.head_object(Bucket=BUCKET, Key="set/a/pic.bmp")["LastModified"]
        if before == after:
            break
    else:
        pytest.skip("could not put twice within one second")
    report = index.add(URI, workers=0)
    assert (report.updated, report.unchanged, report.embedded) == (1, 0, 1)
    expected = FakeEmbedder().embed_pixels(FakeEmbedder().image_loader()(io.BytesIO(second)).pixels[None])[
        0
    ]  # the fake's vector for the new bytes, computed from those bytes directly
    (vector,) = index.arrays().vectors
    assert float(vector @ expected) >= 0.9999
    assert index.add(URI, workers=0).unchanged == 1  # and then it is stable


def test_boto3_listing_agrees_with_pyarrow_and_etags_are_the_md5(
    tmp_path: Path, bucket, s3_server: S3Server
) -> None:
    tree = ["animals/cat.png", "animals/birds/owl.jpg", "food/apple.png", "top.png"]
    folder = tmp_path / "photos"
    written = make_tree(folder, tree)
    s3_server.upload_tree(BUCKET, "set", folder)
    bucket.put_object(Bucket=BUCKET, Key="set/empty-folder/", Body=b"")  # a console-made "folder"
    source = ObjectStoreSource(URI)
    with_etags = source.scan().files
    without = source._list_without_etags()
    assert [f.path for f in with_etags] == sorted(tree)
    assert {(f.path, f.size, f.mtime_ns) for f in with_etags} == {
        (f.path, f.size, f.mtime_ns) for f in without if f.path in tree
    }
    for entry in with_etags:  # a single-part upload's ETag is the MD5 of its bytes
        assert entry.etag == hashlib.md5(written[entry.path].read_bytes()).hexdigest()


def test_without_boto3_listing_falls_back_and_says_what_is_lost(
    tmp_path: Path,
    bucket,
    s3_server: S3Server,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    make_tree(tmp_path / "p", ["x/1.png"])
    s3_server.upload_tree(BUCKET, "set", tmp_path / "p")
    monkeypatch.setattr(sources, "can_list_etags", lambda: False)
    with caplog.at_level(logging.WARNING):
        files = ObjectStoreSource(URI).scan().files
    assert [(f.path, f.etag) for f in files] == [("x/1.png", None)]
    assert "without ETags" in caplog.text and "pixseek[s3]" in caplog.text


def test_a_missing_bucket_is_one_clear_error(bucket) -> None:
    with pytest.raises(FolderNotFoundError, match=r"^cannot index s3://no-such-bucket/x: no such bucket$"):
        ObjectStoreSource("s3://no-such-bucket/x").scan()


def _as_version_1(db: Path) -> None:
    """Rewrite a catalog as pixseek wrote it before ETags: no etag column, schema version 1."""
    cat = Catalog.open(db)
    table = cat._conn.open_table(IMAGES_TABLE).to_arrow()
    cat._conn.create_table(IMAGES_TABLE, table.drop_columns(["etag"]), mode="overwrite")
    cat.set_meta(replace(cat.meta, schema_version=1))


def test_a_version_1_catalog_is_upgraded_by_the_next_index_run(tmp_path: Path) -> None:
    folder = tmp_path / "imgs"
    make_tree(folder, ["a/1.png", "b/2.png"])
    db = tmp_path / "x.db"
    index = Index(db, embedder=FakeEmbedder())
    index.add(folder, workers=0)
    before = index.arrays()
    _as_version_1(db)
    with pytest.raises(SchemaVersionError, match="run `pixseek index` on it once to upgrade it"):
        Catalog.open(db)  # a reader does not rewrite
    report = Index(db, embedder=FakeEmbedder()).add(folder, workers=0)
    assert (report.unchanged, report.embedded) == (2, 0)  # upgraded, nothing re-embedded
    cat = Catalog.open(db)
    assert cat.meta.schema_version == 2
    assert pa.types.is_string(cat._conn.open_table(IMAGES_TABLE).schema.field("etag").type)
    assert [r.etag for r in cat.records()] == [None, None]  # local files have none
    after = Index(db, embedder=FakeEmbedder()).arrays()
    assert after.ids == before.ids
    np.testing.assert_array_equal(after.vectors, before.vectors)


@pytest.mark.parametrize(
    ("etag", "deferred"),
    [
        (None, False),  # no ETag (a local file, or no boto3): hashed first, as always
        ("known", False),  # a catalog row has this ETag: maybe a rename or copy, so hashed first
        ("fresh", True),  # no row has it: new bytes for sure, hashed by the worker that reads them
    ],
)
def test_only_files_with_an_unknown_etag_defer_their_hash(etag: str | None, deferred: bool) -> None:
    d = defer_by_etag(diff([FileEntry("a.png", 10, 5, etag)], []), {"known"})
    assert (len(d.deferred), len(d.candidates)) == ((1, 0) if deferred else (0, 1))


def test_deferred_files_with_one_etag_form_one_embedding_group() -> None:
    entries = [FileEntry("a.png", 1, 1, "x"), FileEntry("b.png", 1, 1, "x"), FileEntry("c.png", 1, 1, "y")]
    plan = resolve(defer_by_etag(diff(entries, []), set()), [], {})
    assert sorted(sorted(t.entry.path for t in g) for g in plan.embed) == [["a.png", "b.png"], ["c.png"]]
    assert {t.content_hash for g in plan.embed for t in g} == {DEFERRED_HASH}


def test_each_new_object_is_read_once_and_hashed_where_it_is_decoded(
    tmp_path: Path, bucket, s3_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "p"
    written = make_tree(folder, ["a/1.png", "a/2.png", "b/3.jpg"])
    (folder / "b/copy-of-1.png").write_bytes(written["a/1.png"].read_bytes())
    s3_server.upload_tree(BUCKET, "set", folder)
    reads: list[str] = []
    original_read = ObjectStoreSource.read

    def counting_read(self: ObjectStoreSource, path: str) -> bytes:
        reads.append(path)
        return original_read(self, path)

    monkeypatch.setattr(ObjectStoreSource, "read", counting_read)
    index = Index(tmp_path / "x.db", embedder=FakeEmbedder())
    report = index.add(URI, workers=0)
    assert (report.added, report.embedded, report.reused) == (4, 3, 1)
    assert len(reads) == len(set(reads)) == 3  # the copy shares its ETag group: not even read
    expected = {
        rel: hashlib.blake2b((folder / rel).read_bytes(), digest_size=16).hexdigest()
        for rel in ["a/1.png", "a/2.png", "b/3.jpg", "b/copy-of-1.png"]
    }
    assert {r.path: r.content_hash for r in Catalog.open(tmp_path / "x.db").records()} == expected

    reads.clear()  # a rename: its ETag is known, so it is hashed first and its vector reused
    bucket.copy_object(
        Bucket=BUCKET, Key="set/b/moved.jpg", CopySource={"Bucket": BUCKET, "Key": "set/b/3.jpg"}
    )
    bucket.delete_object(Bucket=BUCKET, Key="set/b/3.jpg")
    report = index.add(URI, workers=0)
    assert (report.renamed, report.embedded, reads) == (1, 0, ["b/moved.jpg"])
