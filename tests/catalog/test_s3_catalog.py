"""A catalog in an object store (a real moto_server on 127.0.0.1): index, info, search, eval and serve on
s3://, and one writer at a time through the Lance lease."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pyarrow as pa
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import pixseek.models.registry as registry
from pixseek.catalog import Catalog
from pixseek.catalog.lease import LEASE_TABLE, write_lease
from pixseek.cli import app
from pixseek.errors import IndexBusyError
from pixseek.services import Index
from pixseek.settings import Settings
from pixseek.web import create_app
from tests.fakes import FakeEmbedder
from tests.indexing.images import make_tree, write_image
from tests.s3_server import S3Server

TREE = [f"{c}/{i}.png" for c in ("red", "green", "blue") for i in range(6)]


@pytest.fixture
def s3_db(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> str:
    """A fresh bucket per test; the standard AWS_* variables point at the local server."""
    for key, value in s3_server.env.items():
        monkeypatch.setenv(key, value)
    bucket = "cat-" + request.node.name.replace("_", "-")[:40].strip("-").lower()
    s3_server.client().create_bucket(Bucket=bucket)
    return f"s3://{bucket}/index"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    make_tree(tmp_path / "imgs", TREE)
    return tmp_path / "imgs"


def test_index_info_search_on_s3_match_a_local_catalog(tmp_path: Path, folder: Path, s3_db: str) -> None:
    assert not Catalog.exists(s3_db)
    remote = Index(s3_db, embedder=FakeEmbedder())
    report = remote.add(folder, workers=0)
    assert report.added == len(TREE) and Catalog.exists(s3_db)
    local = Index(tmp_path / "local.db", embedder=FakeEmbedder())
    local.add(folder, workers=0)
    assert remote.info().images == len(TREE) and remote.info().bytes_on_disk > 0
    for path in ("red/0.png", "blue/3.png"):
        got = [(h.path, round(h.score, 4)) for h in remote.search(like=path, k=5)]
        assert got == [(h.path, round(h.score, 4)) for h in local.search(like=path, k=5)]
    again = Index(s3_db, embedder=FakeEmbedder()).add(folder, workers=0)  # a second run: nothing to do
    assert (again.unchanged, again.added) == (len(TREE), 0)


def test_cli_index_info_search_and_eval_with_an_s3_db(
    folder: Path, s3_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(registry, "load_embedder", lambda name_or_path=None, *, settings: FakeEmbedder())
    runner = CliRunner()
    done = runner.invoke(app, ["index", str(folder), "--db", s3_db, "--workers", "0", "--json"])
    assert done.exit_code == 0, done.output
    info = json.loads(runner.invoke(app, ["info", "--db", s3_db, "--json"]).stdout)
    assert info["images"] == len(TREE)
    hits = json.loads(runner.invoke(app, ["search", "--like", "green/2.png", "--db", s3_db, "--json"]).stdout)
    assert hits["results"][0]["root"] == str(folder)
    report = runner.invoke(app, ["eval", "--db", s3_db, "--out", str(folder.parent / "rep"), "--json"])
    assert report.exit_code == 0, report.output
    assert json.loads(report.stdout)["db"] == s3_db
    # --db s3://… reaches them as the URI (a Path option had folded it into s3:/…)
    dups = runner.invoke(app, ["duplicates", "--db", s3_db, "--json"])
    assert dups.exit_code == 0, dups.output
    assert json.loads(dups.stdout)["groups"] == []  # 18 different pictures
    adapted = runner.invoke(app, ["adapt", "--db", s3_db, "--json"])
    assert adapted.exit_code == 0, adapted.output
    assert json.loads(adapted.stdout)["classes"] == 3


def test_serve_on_an_s3_catalog(folder: Path, s3_db: str) -> None:
    Index(s3_db, embedder=FakeEmbedder()).add(folder, workers=0)
    settings = Settings(db=s3_db)
    assert settings.db == s3_db  # kept a URI, not mangled into a path
    with TestClient(create_app(settings, index=Index(s3_db, embedder=FakeEmbedder()))) as client:
        assert client.get("/health").json()["images"] == len(TREE)
        results = client.post("/search", data={"like": "red/1.png", "k": 3}).json()["results"]
        assert [r["label"] for r in results].count("red") >= 2


def test_a_second_writer_is_refused_while_the_lease_is_held(folder: Path, s3_db: str) -> None:
    with write_lease(s3_db), pytest.raises(IndexBusyError, match="another pixseek process"):
        Index(s3_db, embedder=FakeEmbedder()).add(folder, workers=0)
    assert Index(s3_db, embedder=FakeEmbedder()).add(folder, workers=0).added == len(TREE)


def test_of_writers_racing_for_the_lease_exactly_one_wins(s3_db: str) -> None:
    start = threading.Barrier(4)
    outcomes: list[str] = []

    def writer() -> None:
        start.wait()
        try:
            with write_lease(s3_db):
                outcomes.append("held")
                time.sleep(1.5)  # hold it while the others try
        except IndexBusyError:
            outcomes.append("busy")

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["busy", "busy", "busy", "held"]


def _creates_retried_as_overwrites(patch: pytest.MonkeyPatch, s3_db: str) -> None:
    import lancedb

    connection = type(lancedb.connect(s3_db))
    create = connection.create_table

    def retried_as_overwrite(self, name: str, data: object = None, **kwargs: object) -> object:
        return create(self, name, data, mode="overwrite")  # what Lance's retry commits: version 2

    patch.setattr(connection, "create_table", retried_as_overwrite)


def test_a_create_that_lance_retried_as_an_overwrite_holds_nothing(
    s3_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lance commits a create as an Overwrite and retries a conflicting one at the next version, so a
    writer that lost the race to create the lease could 'create' it too, over the winner's row: two
    writers went on (the racing test above failed about one run in three). Emulated here: the loser's
    create lands as version 2. It must refuse and give the lease back, so the winner writes on."""
    import lancedb

    from pixseek.catalog.lease import check_held

    with write_lease(s3_db) as winner:
        with monkeypatch.context() as patch:
            _creates_retried_as_overwrites(patch, s3_db)
            with pytest.raises(IndexBusyError, match=winner.owner), write_lease(s3_db):
                pytest.fail("two writers hold the lease")
        check_held(lancedb.connect(s3_db), winner.owner)  # its next commit's fence lets it on
        winner.renew()
    with pytest.raises(ValueError):  # the winner released it, as a writer does when done
        lancedb.connect(s3_db).open_table(LEASE_TABLE)


def test_a_spoiled_lease_that_cannot_be_restored_stops_its_winner_too(
    s3_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the loser cannot restore the winner's row, it drops the table: the winner's run stops at its
    next fence rather than two writers going on."""
    import lancedb
    from lancedb.table import LanceTable

    from pixseek.catalog.lease import check_held

    def restore_fails(self: object, version: object = None) -> None:
        raise OSError("the store refused the restore")

    with write_lease(s3_db) as winner:
        with monkeypatch.context() as patch:
            _creates_retried_as_overwrites(patch, s3_db)
            patch.setattr(LanceTable, "restore", restore_fails)
            with pytest.raises(IndexBusyError), write_lease(s3_db):
                pytest.fail("two writers hold the lease")
        with pytest.raises(IndexBusyError, match=r"lost its write lease \(now held by nobody"):
            check_held(lancedb.connect(s3_db), winner.owner)  # dropped: nobody is left holding it


def test_the_lease_of_a_writer_that_died_expires(folder: Path, s3_db: str) -> None:
    import lancedb

    expired = pa.table({"owner": ["dead-host:1:x"], "expires": [time.time() - 1.0]})
    lancedb.connect(s3_db).create_table(LEASE_TABLE, expired)  # what a kill -9'd writer leaves behind
    assert Index(s3_db, embedder=FakeEmbedder()).add(folder, workers=0).added == len(TREE)
    live = pa.table({"owner": ["live-host:2:y"], "expires": [time.time() + 60]})
    lancedb.connect(s3_db).create_table(LEASE_TABLE, live)
    with pytest.raises(IndexBusyError, match="live-host:2:y"):
        Index(s3_db, embedder=FakeEmbedder()).add(folder, workers=0)


def test_a_writer_whose_lease_was_taken_over_stops_before_its_next_commit(folder: Path, s3_db: str) -> None:
    import lancedb

    index = Index(s3_db, embedder=FakeEmbedder())
    real = index.embedder.embed_pixels
    calls = [0]

    def embed_then_lose_the_lease(pixels):  # another writer takes over while this one embeds
        calls[0] += 1
        if calls[0] == 2:
            conn = lancedb.connect(s3_db)
            conn.drop_table(LEASE_TABLE)
            conn.create_table(
                LEASE_TABLE, pa.table({"owner": ["usurper:9:z"], "expires": [time.time() + 60]})
            )
        return real(pixels)

    index.embedder.embed_pixels = embed_then_lose_the_lease  # type: ignore[method-assign]
    with pytest.raises(IndexBusyError, match="lost its write lease"):
        index.add(folder, workers=0, batch_size=2, commit_rows=2)
    committed = Catalog.open(s3_db).count()
    assert 0 < committed < len(TREE)  # it stopped: nothing written after the takeover


def test_kill_9_of_a_writer_then_resume_gives_the_exact_set(tmp_path: Path, s3_db: str) -> None:
    """A real process indexing into the S3 catalog is killed mid-run; the next run takes over its lease
    at once (same machine, dead pid) and finishes without re-embedding committed rows."""
    import os
    import signal
    import subprocess
    import sys

    from tests.subprocess_env import checkout_env

    folder = tmp_path / "imgs"
    make_tree(folder, [f"c{i % 3}/{i:02d}.png" for i in range(24)])
    hold, held = tmp_path / "hold", tmp_path / "held"
    hold.touch()
    cmd = [sys.executable, "-m", "tests.indexing.slow_index", s3_db, str(folder), "--delay", "0",
           "--hold", str(hold), "--hold-after", "3", "--held", str(held)]  # fmt: skip
    child = subprocess.Popen(cmd, env=checkout_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not held.exists():
        assert child.poll() is None, child.communicate()
        assert time.monotonic() < deadline, "the child never reached its hold point"
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.wait(10)
    committed = Catalog.open(s3_db).snapshot()
    assert 0 < len(committed.ids) < 24

    emb = FakeEmbedder()
    report = Index(s3_db, embedder=emb).add(folder, workers=0)
    assert report.unchanged == len(committed.ids) and report.added == 24 - len(committed.ids)
    assert emb.pixel_calls == 24 - len(committed.ids)  # committed rows were not embedded again
    assert sorted(Index(s3_db, embedder=FakeEmbedder()).arrays().paths) == sorted(
        f"c{i % 3}/{i:02d}.png" for i in range(24)
    )


def test_adapt_keeps_its_lease_through_training_longer_than_the_lease(
    folder: Path, s3_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pixseek.catalog.lease as lease_module
    import pixseek.services.adapting as adapting

    index = Index(s3_db, embedder=FakeEmbedder())
    index.add(folder, workers=0)
    monkeypatch.setattr(lease_module, "DEFAULT_TTL", 1.0)
    monkeypatch.setattr(lease_module, "RENEW_EVERY", 0.2)
    real = adapting.train_adapter
    refused: list[bool] = []

    def slow_training(vectors, labels, **options):  # 2.5 s: more than twice the lease's time
        time.sleep(2.5)
        try:
            with write_lease(s3_db):
                refused.append(False)
        except IndexBusyError:
            refused.append(True)
        return real(vectors, labels, **options)

    monkeypatch.setattr(adapting, "train_adapter", slow_training)
    assert index.adapt().trained_on == len(TREE)
    assert refused == [True]  # the lease was still held: renewed while training
    assert Catalog.open(s3_db).adapter() is not None


def test_adapt_whose_lease_was_taken_over_stores_nothing(
    folder: Path, s3_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lancedb

    import pixseek.services.adapting as adapting

    index = Index(s3_db, embedder=FakeEmbedder())
    index.add(folder, workers=0)
    real = adapting.train_adapter

    def train_then_lose_the_lease(vectors, labels, **options):
        conn = lancedb.connect(s3_db)
        conn.drop_table(LEASE_TABLE)
        conn.create_table(LEASE_TABLE, pa.table({"owner": ["usurper:9:z"], "expires": [time.time() + 60]}))
        return real(vectors, labels, **options)

    monkeypatch.setattr(adapting, "train_adapter", train_then_lose_the_lease)
    with pytest.raises(IndexBusyError, match="lost its write lease"):
        index.adapt()
    assert Catalog.open(s3_db).adapter() is None


def test_a_replica_picks_up_another_writers_commit_within_the_check_interval(
    folder: Path, s3_db: str
) -> None:
    """Each version check is a request to the store, so an object-store replica checks at most once per
    `version_check_seconds`; the writer's own commit counts at once."""
    interval = 4.0  # longer than the add below takes on a loaded machine
    settings = Settings(version_check_seconds=interval)
    writer = Index(s3_db, embedder=FakeEmbedder(), settings=settings)
    writer.add(folder, workers=0)
    replica = Index(s3_db, embedder=FakeEmbedder(), settings=settings)
    before = replica.readiness()  # checked now
    assert writer.readiness().version == before.version  # the writer checked now too
    write_image(folder / "red" / "late.png", seed=4242)
    writer.add(folder, workers=0)
    assert writer.readiness().version > before.version  # its own commit, seen at once
    assert replica.readiness().version == before.version  # within the interval: not asked again
    time.sleep(interval)
    assert replica.readiness().version == writer.readiness().version
    assert replica.readiness().images == before.images + 1


def test_a_catalog_in_a_bucket_that_does_not_exist_is_one_line(
    folder: Path, s3_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lance's own error here is a page of Rust debug output, and it was a traceback."""
    monkeypatch.setattr(registry, "load_embedder", lambda name_or_path=None, *, settings: FakeEmbedder())
    missing = "s3://no-such-bucket-here/index"
    for extra in ([], ["--json"]):
        result = CliRunner().invoke(app, ["index", str(folder), "--db", missing, "--workers", "0", *extra])
        assert result.exit_code == 1, result.output
        said = json.loads(result.stdout)["error"] if extra else result.output.strip()
        assert said.endswith(
            f"cannot write the index at {missing}: NoSuchBucket: The specified bucket does not exist"
        ), said
        assert "Traceback" not in result.output


def test_a_folder_forgotten_from_an_object_store_catalog(folder: Path, s3_db: str, tmp_path: Path) -> None:
    """`forget` writes under the lease as `index` does; the lease is released after."""
    import lancedb

    other = tmp_path / "other"
    make_tree(other, ["x/1.png", "x/2.png"], first_seed=90)
    index = Index(s3_db, embedder=FakeEmbedder())
    index.add(folder, workers=0)
    index.add(other, workers=0)
    assert index.forget(other) == 2
    assert Index(s3_db, embedder=FakeEmbedder()).info().images == len(TREE)
    with pytest.raises(ValueError):  # no lease left behind
        lancedb.connect(s3_db).open_table(LEASE_TABLE)


def test_a_fence_in_the_window_before_the_loser_gives_the_lease_back_waits_for_it(s3_db: str) -> None:
    """The loser's overwrite shows its own row for a moment before it restores the winner's. A fence that
    reads in that moment re-reads after RESTORE_SETTLE: the winner goes on, and no lease is left naming
    a writer that stopped (which made every other writer wait out its time)."""
    import lancedb

    from pixseek.catalog.lease import _give_back, check_held

    conn = lancedb.connect(s3_db)
    with write_lease(s3_db) as winner:
        loser = pa.table({"owner": ["loser"], "expires": [time.time() + 60]})
        spoiled = conn.create_table(LEASE_TABLE, loser, mode="overwrite")
        restorer = threading.Timer(0.3, _give_back, args=(conn, spoiled))
        restorer.start()
        check_held(lancedb.connect(s3_db), winner.owner, settle=1.0)  # read at once: "loser"; then ours
        restorer.join()
    with pytest.raises(ValueError):  # released by the winner when done
        conn.open_table(LEASE_TABLE)
    with write_lease(s3_db) as winner:  # a loser that never gives it back: the fence stops its holder
        usurper = pa.table({"owner": ["usurper"], "expires": [time.time() + 60]})
        conn.create_table(LEASE_TABLE, usurper, mode="overwrite")
        with pytest.raises(IndexBusyError, match="usurper"):
            check_held(lancedb.connect(s3_db), winner.owner, settle=0.1)
