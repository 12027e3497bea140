"""Stateless replicas: /ready reports the version served and holds back until the ANN index is loaded,
two replicas and a writer share one catalog, and a read-only catalog is served without writing anything."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pixseek.catalog import Catalog
from pixseek.services import Index
from pixseek.settings import Settings
from pixseek.web import create_app
from tests.fakes import FakeEmbedder
from tests.indexing.images import write_image


@contextmanager
def _replica(settings: Settings) -> Iterator[TestClient]:
    index = Index(settings.db, settings=settings, embedder=FakeEmbedder())
    try:
        with TestClient(create_app(settings, index=index)) as client:
            yield client
    finally:
        index.close()


def _wait_ready(client: TestClient) -> dict:
    for _ in range(200):
        r = client.get("/ready")
        if r.status_code == 200:
            return r.json()
        threading.Event().wait(0.05)
    raise AssertionError(f"never ready: {r.json()}")


def test_ready_reports_the_version_served_and_exact_search(client: TestClient, web_index: Index) -> None:
    body = _wait_ready(client)
    version = Catalog.open(web_index.db).version()  # read from the catalog, not from the app
    assert body == {"status": "ready", "version": version, "images": 6, "model": "fake", "ann": "unused",
                    "ann_delta": 0, "ann_cached": None, "error": None}  # fmt: skip


def test_ready_is_503_until_the_ann_index_is_loaded(
    tmp_path: Path, photo_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(db=tmp_path / "db", ann_threshold=1)
    Index(settings.db, settings=settings, embedder=FakeEmbedder()).add(photo_root, workers=0)
    for stale in settings.db.glob("ann-v*.faiss"):
        stale.unlink()  # as if the index had never been searched
    release = threading.Event()
    real_warm = Index.warm

    def slow_warm(self: Index) -> None:
        release.wait(30)
        real_warm(self)

    monkeypatch.setattr(Index, "warm", slow_warm)
    with _replica(settings) as client:
        waiting = client.get("/ready")
        assert waiting.status_code == 503
        assert (waiting.json()["status"], waiting.json()["ann"]) == ("loading", "pending")
        assert client.get("/health").status_code == 200  # liveness does not wait
        release.set()
        assert _wait_ready(client)["ann"] == "ready"
    assert len(list(settings.db.glob("ann-v*.faiss"))) == 1


def test_a_failed_warm_up_is_reported_not_hidden(
    tmp_path: Path, photo_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(db=tmp_path / "db")
    Index(settings.db, settings=settings, embedder=FakeEmbedder()).add(photo_root, workers=0)

    def broken(self: Index) -> None:
        raise MemoryError("no room for the ANN index")

    monkeypatch.setattr(Index, "warm", broken)
    with _replica(settings) as client:
        for _ in range(100):
            r = client.get("/ready")
            if r.json()["status"] != "loading":
                break
            threading.Event().wait(0.05)
        assert r.status_code == 503
        assert r.json()["status"] == "failed" and "no room for the ANN index" in r.json()["error"]


def test_two_replicas_and_a_writer_share_one_catalog(tmp_path: Path, photo_root: Path) -> None:
    settings = Settings(db=tmp_path / "db")
    writer = Index(settings.db, settings=settings, embedder=FakeEmbedder())
    writer.add(photo_root, workers=0)
    with _replica(settings) as one, _replica(settings) as two:
        before = [_wait_ready(c)["version"] for c in (one, two)]
        assert before[0] == before[1]
        new = write_image(photo_root / "animals/new-fox.png", seed=4242)
        writer.add(photo_root, workers=0)
        for client in (one, two):  # picked up on the very next request, no restart
            body = client.get("/ready").json()
            assert body["images"] == 7 and body["version"] > before[0]
            hits = client.post("/search", files={"image": ("q.png", new.read_bytes())}, data={"k": 1})
            assert hits.json()["results"][0]["path"] == "animals/new-fox.png"


def _mount_read_only_copy(src: Path, where: Path) -> bool:
    """Copy `src` onto a fresh tmpfs at `where`, then remount it read-only: even root cannot write there."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    where.mkdir()
    if subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(where)], check=False
    ).returncode:
        return False
    shutil.copytree(src, where / "db")
    subprocess.run(["mount", "-o", "remount,ro", str(where)], check=True)
    return True


def test_a_read_only_catalog_is_served_without_a_single_write(tmp_path: Path, photo_root: Path) -> None:
    build = Settings(db=tmp_path / "db", ann_threshold=1)
    Index(build.db, settings=build, embedder=FakeEmbedder()).add(photo_root, workers=0)
    for ann in build.db.glob("ann-v*.faiss"):
        ann.unlink()  # so the replica has to build one, and must not try to save it
    mnt = tmp_path / "ro"
    if not _mount_read_only_copy(build.db, mnt):
        pytest.skip("needs root to mount a read-only tmpfs")
    try:
        settings = Settings(db=mnt / "db", ann_threshold=1)
        listing = sorted(p.relative_to(mnt) for p in mnt.rglob("*"))
        with _replica(settings) as client:
            assert _wait_ready(client)["ann"] == "ready"  # built in memory
            r = client.post(
                "/search", files={"image": ("q.png", (photo_root / "food/apple.png").read_bytes())}
            )
            assert r.status_code == 200 and r.json()["results"][0]["path"] == "food/apple.png"
            row = r.json()["results"][0]["id"]
            assert client.get(f"/thumbnail/{row}").status_code == 200
        assert sorted(p.relative_to(mnt) for p in mnt.rglob("*")) == listing
    finally:
        subprocess.run(["umount", str(mnt)], check=False)
