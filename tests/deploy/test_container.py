"""deploy/Containerfile builds on a Debian-packages base and the image serves a real index, as a non-root
user, from a read-only catalog mount and a mounted model folder (podman; no registry is reachable here)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.podman import HOST_CA_BUNDLE, Podman, free_port, pip_build_flags, unavailable
from tests.indexing.images import make_tree
from tests.subprocess_env import REPO, checkout_env

httpx = pytest.importorskip("httpx")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(unavailable() is not None, reason=str(unavailable())),
    # debootstrap (~1 min) and a first build that downloads the core wheels; later runs reuse both.
    pytest.mark.timeout(1800),
]

IMAGE = "localhost/pixseek:test"
TINY_CLIP = REPO / "tests" / "fixtures" / "tiny-clip"
TOKEN = "container-test-token"  # serve refuses 0.0.0.0 without one
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PATHS = ["animals/cat.png", "animals/dog.jpg", "food/apple.png", "food/pear.jpg", "plants/tree.png"]


@pytest.fixture(scope="module")
def podman(tmp_path_factory: pytest.TempPathFactory) -> Podman:
    return Podman.create(tmp_path_factory.mktemp("podman"))


@pytest.fixture(scope="module")
def image(podman: Podman) -> str:
    """The image, built from this checkout on the local Debian base (layers cached between runs)."""
    base = podman.ensure_debian_base()
    old = podman("image", "inspect", "--format", "{{.Id}}", IMAGE, check=False).stdout.strip()
    podman(
        "build", "--format", "docker", "-f", str(REPO / "deploy" / "Containerfile"), "-t", IMAGE,
        "--build-arg", f"BASE={base}", *pip_build_flags(), str(REPO),
        timeout=1500,
    )  # fmt: skip
    if old and old != podman("image", "inspect", "--format", "{{.Id}}", IMAGE).stdout.strip():
        podman("rmi", old, check=False)  # the previous build, untagged now: ~1 GB a run otherwise
    return IMAGE


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding `db`, a real index made on the host with the tiny CLIP fixture model."""
    root = tmp_path_factory.mktemp("deploy")
    make_tree(root / "photos", PATHS)
    mount = root / "mount"
    mount.mkdir()
    cmd = [sys.executable, "-m", "pixseek", "index", str(root / "photos"), "--db", str(mount / "db")]
    cmd += ["--model", str(TINY_CLIP), "--workers", "0", "--json"]
    done = subprocess.run(cmd, env=checkout_env(), capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["added"] == len(PATHS)
    return mount


@pytest.fixture(scope="module")  # the tests only read from it: one start (~15 s) serves them all
def replica(podman: Podman, image: str, catalog: Path) -> Iterator[tuple[str, str]]:
    """(container id, base URL) of a replica serving `catalog` read-only; removed by id even on failure."""
    port = free_port()
    cid = podman(
        "run", "-d", "--no-healthcheck", "-p", f"127.0.0.1:{port}:8000", "-e", f"PIXSEEK_API_TOKEN={TOKEN}",
        "-v", f"{catalog}:/data:ro", "-v", f"{TINY_CLIP}:/models/tiny-clip:ro",
        image, "serve", "--db", "/data/db", "--model", "/models/tiny-clip", "--host", "0.0.0.0",
    ).stdout.strip()  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_healthy(podman, cid, url)
        yield cid, url
    finally:
        podman("rm", "--force", "--time", "0", cid, check=False)


def _wait_healthy(podman: Podman, cid: str, url: str, *, seconds: float = 120) -> None:
    """Poll /health until it answers 200; fail with the container's log if it exits or never does."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        state = podman("inspect", "--format", "{{.State.Status}}", cid, check=False).stdout.strip()
        if state not in {"running", "created", "configured"}:
            break
        time.sleep(0.5)
    logs = podman("logs", cid, check=False)
    pytest.fail(f"replica never became healthy (state {state!r}):\n{logs.stdout}\n{logs.stderr}")


def test_image_runs_as_a_non_root_user(podman: Podman, replica: tuple[str, str]) -> None:
    cid, _ = replica
    uid = podman("exec", cid, "id", "-u").stdout.strip()
    assert uid == "10001"
    config = json.loads(podman("image", "inspect", IMAGE).stdout)[0]["Config"]
    assert config["Entrypoint"] == ["pixseek"]
    assert config["User"] == "10001:10001"


def test_image_has_no_torch_and_nothing_of_the_build_hosts_pip_settings(
    podman: Podman, replica: tuple[str, str]
) -> None:
    cid, _ = replica
    probe = (
        "import importlib.util as u; print(*(u.find_spec(m) is not None for m in ('torch', 'onnxruntime')))"
    )
    assert podman("exec", cid, "python3", "-c", probe).stdout.split() == ["False", "True"]
    # The host's CA bundle was a build-time mount over the base's: the image keeps the base's own ...
    bundle = str(HOST_CA_BUNDLE)
    in_base = podman("run", "--rm", "--entrypoint", "sha256sum", podman.ensure_debian_base(), bundle).stdout
    assert podman("exec", cid, "sha256sum", bundle).stdout.split()[0] == in_base.split()[0]
    # ... and the pip build args belong to the builder stage, not to the image's history.
    history = podman("history", "--no-trunc", "--format", "{{.CreatedBy}}", IMAGE).stdout
    assert "PIP_CERT" not in history and "PIP_INDEX_URL" not in history


def test_replica_answers_image_and_text_searches_from_a_read_only_catalog(
    replica: tuple[str, str], catalog: Path
) -> None:
    _, url = replica
    photo = catalog.parent / "photos" / "food" / "apple.png"
    files = {"image": ("q.png", photo.read_bytes())}
    assert httpx.post(f"{url}/search", files=files, timeout=60).status_code == 401  # no token, no search
    r = httpx.post(f"{url}/search", files=files, data={"k": 3}, headers=AUTH, timeout=60)
    assert r.status_code == 200, r.text
    hits = r.json()["results"]
    assert len(hits) == 3 and hits[0]["path"] == "food/apple.png"
    assert hits[0]["score"] == pytest.approx(1.0, abs=1e-3)
    assert r.json()["model"] == "tiny-clip"

    r = httpx.post(
        f"{url}/search", data={"text": "a red apple", "k": 10, "label": "animals"}, headers=AUTH, timeout=60
    )
    assert r.status_code == 200, r.text
    assert {h["path"] for h in r.json()["results"]} == {"animals/cat.png", "animals/dog.jpg"}
