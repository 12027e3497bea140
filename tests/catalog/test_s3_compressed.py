"""An object-store catalog past the compressed threshold: the writer builds the compressed index once and
saves it under the catalog's prefix; a replica copies it to its own local folder instead of building one,
serves rows added since through an exact delta, and its answers agree with brute force over the vectors."""

from __future__ import annotations

import uuid
import zlib
from pathlib import Path

import faiss
import numpy as np
import pytest

from pixseek.catalog import Catalog, ImageRecord, IndexMeta
from pixseek.catalog.schema import rows_table
from pixseek.errors import StorageError
from pixseek.search import compressed as compressed_module
from pixseek.search.ann import saved_for
from pixseek.services import Index
from pixseek.settings import Settings
from tests.damage import damaged_in_place
from tests.fakes import FakeEmbedder
from tests.indexing.images import make_tree
from tests.s3_server import S3Server

DIM = 32
N = 2400
META = IndexMeta("fake", "fake", "fake-32", DIM)  # FakeEmbedder()'s, so Index.add may append


def _vectors(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(7).standard_normal((12, DIM))
    x = (centres[rng.integers(0, 12, n)] + 0.6 * rng.standard_normal((n, DIM))).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _records(start: int, n: int) -> list[ImageRecord]:
    return [
        ImageRecord(f"id{i:05d}", "/photos", f"{i}.jpg", 1, 1, f"h{i}", 1, 1, None)
        for i in range(start, start + n)
    ]


def _brute_force(vectors: np.ndarray, query: np.ndarray, k: int) -> list[str]:
    """The exact answer, from the vectors as the catalog stores them (float16)."""
    scores = vectors.astype(np.float16).astype(np.float32) @ query
    return [f"id{i:05d}" for i in np.argsort(-scores, kind="stable")[:k]]


def _saved_names(s3_server: S3Server, uri: str) -> list[str]:
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    listing = s3_server.client().list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/")
    names = (o["Key"].removeprefix(f"{prefix}/") for o in listing.get("Contents", []))
    return sorted(name for name in names if "/" not in name)


@pytest.fixture
def s3_catalog(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> tuple[str, np.ndarray]:
    for key, value in s3_server.env.items():
        monkeypatch.setenv(key, value)
    bucket = f"pq-{uuid.uuid4().hex[:12]}"  # the server lives for the session: a bucket per test
    s3_server.client().create_bucket(Bucket=bucket)
    uri = f"s3://{bucket}/index"
    vectors = _vectors(N, 0)
    Catalog.create(uri, META).append(rows_table(_records(0, N), vectors, DIM))
    return uri, vectors


def test_a_replica_copies_the_saved_index_and_serves_new_rows_through_a_delta(
    tmp_path: Path, s3_catalog: tuple[str, np.ndarray], s3_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri, vectors = s3_catalog
    writer = Index(uri, settings=Settings(compressed_threshold=1000, ann_cache=tmp_path / "writer"))
    writer.warm()
    version = writer.readiness().version
    assert writer._matrix().vectors is None  # past the threshold: nothing of the vectors in RAM
    names = [f"pq-v{version}.faiss", f"pq-v{version}.keys.npy", f"vectors-v{version}.lists.f16"]
    assert set(names) <= set(_saved_names(s3_server, uri))
    assert saved_for(uri, version) and not saved_for(uri, version + 1)

    def no_build(*args: object, **kwargs: object) -> None:
        raise AssertionError("the replica built its own compressed index")

    monkeypatch.setattr(compressed_module.CompressedIndex, "build", classmethod(no_build))
    replica_cache = tmp_path / "replica"
    # version_check_seconds=0: the commit below is seen on the next call (the interval has its own test)
    replica = Index(
        uri, settings=Settings(compressed_threshold=1000, ann_cache=replica_cache, version_check_seconds=0)
    )
    assert replica.readiness().ann == "pending"
    replica.warm()
    assert replica.readiness().ann == "ready"
    copies = list(replica_cache.glob("*/vectors-v*.lists.f16"))
    assert [p.name for p in copies] == [f"vectors-v{version}.lists.f16"]
    assert copies[0].stat().st_size == N * DIM * 2  # every row, as float16

    queries = _vectors(20, 99)
    found = replica.search_vectors(queries, k=10)
    agree = [
        len({h.id for h in hits} & set(_brute_force(vectors, q, 10))) / 10
        for q, hits in zip(queries, found, strict=True)
    ]
    assert np.mean(agree) >= 0.95

    added = _vectors(30, 5) * -1  # away from every cluster: their own neighbours
    Catalog.open(uri).append(rows_table(_records(N, 30), added, DIM))
    assert replica.readiness().version == version + 1
    replica.warm()
    state = replica.readiness()
    assert (state.ann, state.ann_delta) == ("ready", 30)  # the old index plus 30 rows searched exactly
    every = np.concatenate([vectors, added])
    late = Index(uri, settings=Settings(compressed_threshold=1000, ann_cache=tmp_path / "late"))
    late.warm()  # a replica started after the append: it copies the older index, and adds the delta
    assert (late.readiness().ann, late.readiness().ann_delta) == ("ready", 30)
    for q in added[:5]:
        assert [h.id for h in replica.search_vectors(q[None, :], k=10)[0]] == _brute_force(every, q, 10)
        assert [h.id for h in late.search_vectors(q[None, :], k=10)[0]] == _brute_force(every, q, 10)


@pytest.mark.parametrize("vector_bytes", [3, N * DIM * 2], ids=["ragged-vectors", "corrupt-codes"])
def test_a_corrupt_saved_index_is_ignored_and_built_anew(
    vector_bytes: int, tmp_path: Path, s3_catalog: tuple[str, np.ndarray], s3_server: S3Server
) -> None:
    uri, vectors = s3_catalog
    bucket = uri.removeprefix("s3://").split("/")[0]
    version = Catalog.open(uri).version()
    client = s3_server.client()
    client.put_object(Bucket=bucket, Key=f"index/pq-v{version}.faiss", Body=b"not an index")
    client.put_object(Bucket=bucket, Key=f"index/vectors-v{version}.lists.f16", Body=bytes(vector_bytes))
    index = Index(uri, settings=Settings(compressed_threshold=1000, ann_cache=tmp_path / "cache"))
    query = vectors[17]
    assert index.search_vectors(query[None, :], k=1)[0][0].id == "id00017"
    codes = client.get_object(Bucket=bucket, Key=f"index/pq-v{version}.faiss")["Body"].read()
    assert faiss.deserialize_index(np.frombuffer(codes, dtype=np.uint8)).ntotal == N  # replaced
    digest = client.get_object(Bucket=bucket, Key=f"index/pq-v{version}.faiss.crc32")["Body"].read()
    assert digest.decode().strip() == f"{zlib.crc32(codes):08x}"  # and its digest with it
    head = client.head_object(Bucket=bucket, Key=f"index/vectors-v{version}.lists.f16")
    assert head["ContentLength"] == N * DIM * 2


def test_codes_damaged_in_place_under_the_prefix_are_caught_by_their_digest(
    tmp_path: Path,
    s3_catalog: tuple[str, np.ndarray],
    s3_server: S3Server,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The same size and still a FAISS file, bytes changed inside: the replica's copy fails its digest,
    so it is built again rather than searched."""
    uri, vectors = s3_catalog
    bucket = uri.removeprefix("s3://").split("/")[0]
    Index(uri, settings=Settings(compressed_threshold=1000, ann_cache=tmp_path / "writer")).warm()
    version, client = Catalog.open(uri).version(), s3_server.client()
    key = f"index/pq-v{version}.faiss"
    damaged = damaged_in_place(client.get_object(Bucket=bucket, Key=key)["Body"].read())
    client.put_object(Bucket=bucket, Key=key, Body=damaged)
    replica = Index(uri, settings=Settings(compressed_threshold=1000, ann_cache=tmp_path / "replica"))
    for row in (17, 2399):
        assert [h.id for h in replica.search_vectors(vectors[row][None, :], k=5)[0]] == _brute_force(
            vectors, vectors[row], 5
        )
    assert "do not match the digest" in caplog.text


def test_damaged_codes_under_the_prefix_are_repaired_even_with_an_older_copy_at_hand(
    tmp_path: Path, s3_catalog: tuple[str, np.ndarray], s3_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A replica holding an older version served it plus a delta when the newest download failed its
    digest: nothing was uploaded over the damage, so it (and every replica) downloaded the damaged
    version again at each start. Now it builds that version, serves it and uploads it."""
    from pixseek.search import compressed_remote
    from pixseek.search.compressed import CompressedIndex

    uri, _ = s3_catalog
    bucket = uri.removeprefix("s3://").split("/")[0]
    replica_settings = Settings(compressed_threshold=1000, ann_cache=tmp_path / "replica")
    Index(uri, settings=Settings(compressed_threshold=1000, ann_cache=tmp_path / "w1")).warm()
    Index(uri, settings=replica_settings).warm()  # the replica's copy of the first version
    Catalog.open(uri).append(rows_table(_records(N, 20), _vectors(20, 3), DIM))
    writer = Settings(compressed_threshold=1000, ann_cache=tmp_path / "w2", ann_delta_limit=0)
    Index(uri, settings=writer).warm()  # builds and uploads the second version
    version, client = Catalog.open(uri).version(), s3_server.client()
    key = f"index/pq-v{version}.faiss"
    client.put_object(
        Bucket=bucket,
        Key=key,
        Body=damaged_in_place(client.get_object(Bucket=bucket, Key=key)["Body"].read()),
    )
    downloads: list[int] = []
    download = compressed_remote._download
    monkeypatch.setattr(
        compressed_remote,
        "_download",
        lambda fs, base, v, *a: downloads.append(v) or download(fs, base, v, *a),
    )
    replica = Index(uri, settings=replica_settings)
    assert isinstance(replica._matrix()._compressed(), CompressedIndex)  # this version, not older + delta
    codes = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    digest = client.get_object(Bucket=bucket, Key=f"{key}.crc32")["Body"].read().decode().strip()
    assert digest == f"{zlib.crc32(codes):08x}"  # repaired under the prefix
    row = N + 7
    assert [h.id for h in replica.search_vectors(_vectors(20, 3)[7][None, :], k=1)[0]] == [f"id{row:05d}"]
    downloads.clear()
    Index(uri, settings=replica_settings)._matrix()._compressed()  # the next start loads its own copy
    assert downloads == []


def test_rebuild_ann_replaces_the_saved_index_and_this_machines_copy(
    tmp_path: Path, s3_catalog: tuple[str, np.ndarray], s3_server: S3Server
) -> None:
    uri, _ = s3_catalog
    settings = Settings(compressed_threshold=1000, ann_cache=tmp_path / "cache")
    writer = Index(uri, settings=settings, embedder=FakeEmbedder())
    writer.warm()
    first = writer.readiness().version
    make_tree(tmp_path / "imgs", ["a/1.png", "a/2.png"])
    writer.add(tmp_path / "imgs", workers=0)  # two new rows: within the delta bound, nothing rebuilt
    assert writer.readiness().ann_delta == 2
    assert f"vectors-v{first}.lists.f16" in _saved_names(s3_server, uri)

    writer.add(tmp_path / "imgs", workers=0, rebuild_ann=True)
    now = writer.readiness()
    assert (now.ann, now.ann_delta) == ("ready", 0)
    assert [n for n in _saved_names(s3_server, uri) if n.startswith(("pq-v", "vectors-v"))] == [
        f"pq-v{now.version}.faiss",
        f"pq-v{now.version}.faiss.crc32",
        f"pq-v{now.version}.keys.npy",
        f"vectors-v{now.version}.lists.f16",
    ]
    assert sorted(p.name for p in tmp_path.glob("cache/*/vectors-v*")) == [
        f"vectors-v{now.version}.lists.f16"
    ]
    assert writer.search(image=tmp_path / "imgs" / "a/2.png", k=1)[0].path == "a/2.png"


def test_an_unusable_copy_folder_is_one_clear_error(
    tmp_path: Path, s3_catalog: tuple[str, np.ndarray]
) -> None:
    uri, _ = s3_catalog
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the copy folder should go")
    index = Index(uri, settings=Settings(compressed_threshold=1000, ann_cache=blocker))
    with pytest.raises(
        StorageError, match=r"^cannot keep a copy of the compressed index in .*not-a-folder/"
    ) as err:
        index.warm()
    assert str(err.value).endswith("set PIXSEEK_ANN_CACHE to a writable folder with room for the vector file")
    assert "\n" not in str(err.value)
