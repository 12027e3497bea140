"""A reader racing the creation of a catalog sees no catalog (a clear CatalogError) or a complete one."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

from PIL import Image

from pixseek.catalog import Catalog, IndexMeta
from pixseek.errors import CatalogError
from pixseek.services import Index
from tests.fakes import FakeEmbedder
from tests.indexing.images import make_tree
from tests.subprocess_env import checkout_env

META = IndexMeta(model="fake", model_ref="fake", fingerprint="fp", dim=4)


def _read(db: Path, outcomes: dict[str, int]) -> None:
    """One read as a user makes it; anything but 'no index yet' or a full answer is a failure."""
    try:
        info = Index(db).info()
    except CatalogError as exc:
        assert "no pixseek index" in str(exc), exc
        outcomes["absent"] += 1
    else:
        assert info.model == META.model and info.dim == META.dim
        outcomes["complete"] += 1


def test_readers_never_see_a_half_created_catalog(tmp_path: Path) -> None:
    dbs = [tmp_path / f"db{i}" for i in range(60)]
    for db in dbs:
        db.mkdir()  # as `Index.add` does, to hold the lock file, before the catalog exists
    outcomes = {"absent": 0, "complete": 0}
    being_created = [0]  # the reader hammers the catalog the writer is creating right now
    done = threading.Event()

    def create_all() -> None:
        for i, db in enumerate(dbs):
            being_created[0] = i
            Catalog.create(db, META)
        done.set()

    writer = threading.Thread(target=create_all)
    writer.start()
    while not done.is_set():
        _read(dbs[being_created[0]], outcomes)
    writer.join()
    for db in dbs:
        _read(db, outcomes)
    assert outcomes["complete"] >= len(dbs)
    assert outcomes["absent"] > 0  # the readers really did run while catalogs were being created


def test_a_crash_during_creation_leaves_no_catalog_and_the_next_run_creates_it(tmp_path: Path) -> None:
    db = tmp_path / "db"
    db.mkdir()
    (db / "meta-staging.lance").mkdir()  # what a run killed while writing the metadata table leaves
    (db / "meta-staging.lance" / "junk").write_bytes(b"partial")
    try:
        Index(db).info()
    except CatalogError as exc:
        assert "no pixseek index" in str(exc)
    else:
        raise AssertionError("a half-created catalog was opened")
    Catalog.create(db, META)
    assert Catalog.open(db).meta == META


def test_info_and_search_race_a_first_pixseek_index(tmp_path: Path) -> None:
    """Real processes: `info` and `search` in a loop while another process creates the index."""
    folder = tmp_path / "imgs"
    make_tree(folder, [f"c{i % 2}/{i:02d}.png" for i in range(6)])
    query = tmp_path / "q.png"
    Image.new("RGB", (16, 16), (200, 30, 30)).save(query)
    for attempt in range(2):
        db = tmp_path / f"db{attempt}"
        cmd = [sys.executable, "-m", "tests.indexing.slow_index", str(db), str(folder), "--delay", "0"]
        child = subprocess.Popen(cmd, env=checkout_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        reads = 0
        while child.poll() is None or reads == 0:
            try:
                index = Index(db, embedder=FakeEmbedder())
                index.info()
                index.search(image=str(query), k=3)
            except CatalogError as exc:
                assert "no pixseek index" in str(exc), exc
            reads += 1
        _, err = child.communicate()
        assert child.returncode == 0, err
        assert Index(db).info().images == 6
