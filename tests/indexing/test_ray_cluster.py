"""A two-node Ray cluster on this machine (started by the test, stopped by PID) indexes an S3 prefix into an
S3 catalog: the same rows and vectors as a local run over the same files (slow: cluster start-up)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pixseek.services import Index, IndexArrays
from tests.fakes import FakeEmbedder
from tests.indexing.images import make_tree
from tests.s3_server import S3Server
from tests.subprocess_env import checkout_env

pytestmark = pytest.mark.slow
TREE = [f"{c}/{i:02d}.png" for c in ("a", "b", "c") for i in range(10)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class RayCluster:
    address: str
    worker: subprocess.Popen  # the worker node's `ray start --block`, leading its own process group


@pytest.fixture
def cluster(s3_server: S3Server, tmp_path: Path) -> Iterator[RayCluster]:
    """Head + one worker node, 1 CPU each; every process gets the same auth mode, checkout and S3 env."""
    ray_exe = shutil.which("ray", path=str(Path(sys.executable).parent)) or shutil.which("ray")
    if ray_exe is None:
        pytest.skip("ray is not installed (pip install 'pixseek[ray]')")
    port = _free_port()
    env = checkout_env(RAY_AUTH_MODE="disabled", RAY_USAGE_STATS_ENABLED="0", **s3_server.env)
    common = ["--num-cpus", "1", "--disable-usage-stats", "--block"]
    head = subprocess.Popen(
        [ray_exe, "start", "--head", "--port", str(port), "--node-ip-address", "127.0.0.1",
         "--include-dashboard=false", *common],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    procs = [head]
    address = f"127.0.0.1:{port}"
    try:
        time.sleep(5)
        procs.append(
            subprocess.Popen(
                [ray_exe, "start", "--address", address, "--node-ip-address", "127.0.0.1", *common],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        )
        yield RayCluster(address, procs[1])
    finally:
        for proc in reversed(procs):  # by PID: `ray stop` would stop every Ray process on the machine
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def test_two_nodes_index_s3_into_s3_like_a_local_run(
    cluster: RayCluster, s3_server: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in {**s3_server.env, "RAY_AUTH_MODE": "disabled"}.items():
        monkeypatch.setenv(key, value)
    folder = tmp_path / "imgs"
    make_tree(folder, TREE)
    (folder / "c/broken.png").write_bytes(b"not a png")
    client = s3_server.client()
    client.create_bucket(Bucket="ray-cluster")
    s3_server.upload_tree("ray-cluster", "photos", folder)

    driver = subprocess.run(
        [sys.executable, "-m", "tests.indexing.ray_driver", cluster.address, "s3://ray-cluster/photos",
         "s3://ray-cluster/index", "--actors", "2"],
        env=checkout_env(), capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert driver.returncode == 0, driver.stderr[-3000:]
    report = json.loads(driver.stdout.strip().splitlines()[-1])
    distributed = Index("s3://ray-cluster/index", embedder=FakeEmbedder())
    assert report["added"] == len(TREE)
    assert {k: report["ray"][k] for k in ("nodes", "actors", "gpus")} == {"nodes": 2, "actors": 2, "gpus": 0}
    assert report["ray"]["rows_written_by_workers"] == len(TREE)  # the actors appended them, not the driver
    assert set(report["ray"]["stage_seconds"]) == {"list", "diff", "hash", "read_decode_embed", "commit",
                                                 "sweep_compact"}  # fmt: skip
    assert [f["path"] for f in report["failed"]] == ["s3://ray-cluster/photos/c/broken.png"]
    local = Index(tmp_path / "local.db", embedder=FakeEmbedder())
    local.add(folder, workers=0)
    a, b = local.arrays(), distributed.arrays()
    assert sorted(b.paths) == sorted(a.paths) == sorted(TREE)
    for path, vector in zip(a.paths, a.vectors, strict=True):
        assert float(vector @ b.vectors[b.paths.index(path)]) >= 0.999, path


HELD_TREE = [f"{c}/{i:02d}.png" for c in ("a", "b", "c") for i in range(20)]  # several actor calls each


def _held_run(
    cluster: RayCluster, s3_server: S3Server, tmp_path: Path, bucket: str, actors: int
) -> tuple[subprocess.Popen, Path]:
    """HELD_TREE uploaded to s3://BUCKET/photos, and a driver indexing it into s3://BUCKET/index whose actors
    hold at their fifth model call while the returned file exists; returned once an actor holds and a
    finished call's 16 rows are in the catalog (an actor runs two calls at once, so its append may still be
    in flight when the other call reaches the hold)."""
    make_tree(tmp_path / "imgs", HELD_TREE)
    s3_server.client().create_bucket(Bucket=bucket)
    s3_server.upload_tree(bucket, "photos", tmp_path / "imgs")
    hold, held = tmp_path / "hold", tmp_path / "held"
    hold.touch()
    cmd = [sys.executable, "-m", "tests.indexing.ray_driver", cluster.address, f"s3://{bucket}/photos",
           f"s3://{bucket}/index", "--actors", str(actors), "--hold", str(hold), "--held", str(held),
           "--hold-after", "4"]  # fmt: skip
    driver = subprocess.Popen(cmd, env=checkout_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while not held.exists():
        assert driver.poll() is None, driver.communicate()[1][-3000:]
        assert time.monotonic() < deadline, "no actor reached its hold point"
        time.sleep(0.1)
    db = f"s3://{bucket}/index"
    while len(Index(db, embedder=FakeEmbedder()).arrays().ids) < 16:
        assert driver.poll() is None, driver.communicate()[1][-3000:]
        assert time.monotonic() < deadline, "no actor call's rows were appended before the hold"
        time.sleep(0.5)
    return driver, hold


def _settled(db: str) -> IndexArrays:
    """The catalog's rows once they stop changing (Ray stops a dead driver's actors a moment later)."""
    counts = [-1, -2]
    while counts[-1] != counts[-2]:
        time.sleep(2)
        counts.append(len(Index(db, embedder=FakeEmbedder()).arrays().ids))
    return Index(db, embedder=FakeEmbedder()).arrays()


def _resume(cluster: RayCluster, bucket: str, *options: str) -> dict:
    """A fresh run over the same prefix and catalog, to the end; its report."""
    resume = subprocess.run(
        [sys.executable, "-m", "tests.indexing.ray_driver", cluster.address, f"s3://{bucket}/photos",
         f"s3://{bucket}/index", *options],
        env=checkout_env(), capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert resume.returncode == 0, resume.stderr[-3000:]
    return json.loads(resume.stdout.strip().splitlines()[-1])


def test_kill_9_of_the_driver_after_worker_appends_then_resume_gives_the_exact_set(
    cluster: RayCluster, s3_server: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The workers append rows into the S3 catalog; the driver is killed while they hold; the next run
    takes over the lease (same machine, dead pid) and embeds only what no worker had committed."""
    for key, value in {**s3_server.env, "RAY_AUTH_MODE": "disabled"}.items():
        monkeypatch.setenv(key, value)
    driver, hold = _held_run(cluster, s3_server, tmp_path, "ray-kill", actors=2)
    os.kill(driver.pid, signal.SIGKILL)
    driver.wait(30)
    hold.unlink()
    committed = _settled("s3://ray-kill/index")
    # An actor call is 16 files (4 model calls of 4); _held_run waited for one call's rows, and the held
    # calls' rows cannot be there.
    assert 16 <= len(committed.ids) < len(HELD_TREE)
    assert len(set(committed.paths)) == len(committed.paths)

    report = _resume(cluster, "ray-kill", "--actors", "2")
    assert (report["unchanged"], report["added"]) == (len(committed.ids), len(HELD_TREE) - len(committed.ids))
    final = Index("s3://ray-kill/index", embedder=FakeEmbedder()).arrays()
    assert sorted(final.paths) == sorted(HELD_TREE) and len(set(final.ids)) == len(HELD_TREE)


def test_kill_9_of_a_worker_node_mid_run_then_resume_gives_the_exact_set(
    cluster: RayCluster, s3_server: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three actors (1.5 CPUs) cannot all fit on one 1-CPU node, so the worker node runs at least one. It is
    SIGKILLed (raylet, workers and all) while every actor holds with rows appended. Seen here: Ray restarts
    the lost actor on the head, retries its calls, and the run completes; a run that could not would be
    stopped after a minute, as an operator would. Either way no row is written twice, and the next run, on
    the head alone, embeds only what no worker had committed."""
    for key, value in {**s3_server.env, "RAY_AUTH_MODE": "disabled"}.items():
        monkeypatch.setenv(key, value)
    driver, hold = _held_run(cluster, s3_server, tmp_path, "ray-node", actors=3)
    time.sleep(5)  # the other actors reach their hold points
    os.killpg(cluster.worker.pid, signal.SIGKILL)
    cluster.worker.wait(30)
    hold.unlink()
    try:
        driver.wait(60)
    except subprocess.TimeoutExpired:
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait(30)
    committed = _settled("s3://ray-node/index")
    assert len(set(committed.paths)) == len(committed.paths)  # no row twice, whatever the run did

    report = _resume(cluster, "ray-node", "--actors", "2", "--nodes", "1")
    assert (report["unchanged"], report["added"]) == (len(committed.ids), len(HELD_TREE) - len(committed.ids))
    assert report["embedded"] == len(HELD_TREE) - len(committed.ids)  # nothing committed is embedded again
    final = Index("s3://ray-node/index", embedder=FakeEmbedder()).arrays()
    assert sorted(final.paths) == sorted(HELD_TREE) and len(set(final.ids)) == len(HELD_TREE)
