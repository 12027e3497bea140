"""deploy/kuberay/rayjob.yaml is copied by users as is: it must parse, and its entrypoint must be a
command line this checkout's CLI accepts, so a renamed option breaks a test rather than a user's job."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from typing import Any

import pytest
import typer

from tests.subprocess_env import REPO, checkout_env

yaml = pytest.importorskip("yaml")

MANIFEST = REPO / "deploy" / "kuberay" / "rayjob.yaml"


@pytest.fixture(scope="module")
def job() -> dict[str, Any]:
    return yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))


def _containers(group: dict[str, Any]) -> list[dict[str, Any]]:
    return group["template"]["spec"]["containers"]


def test_is_a_rayjob_that_cleans_up_after_itself(job: dict[str, Any]) -> None:
    assert job["apiVersion"] == "ray.io/v1"
    assert job["kind"] == "RayJob"
    assert job["spec"]["shutdownAfterJobFinishes"] is True
    cluster = job["spec"]["rayClusterSpec"]
    groups = [cluster["headGroupSpec"], *cluster["workerGroupSpecs"]]
    assert len(groups) >= 2  # a head and at least one worker group
    for group in groups:
        for container in _containers(group):
            assert {"secretRef": {"name": "pixseek-s3"}} in container["envFrom"]
            assert {"cpu", "memory"} <= set(container["resources"]["requests"])


def test_entrypoint_is_a_pixseek_index_command_the_cli_accepts(job: dict[str, Any]) -> None:
    argv = shlex.split(job["spec"]["entrypoint"])
    assert argv[:2] == ["pixseek", "index"]
    assert argv[2].startswith("s3://")

    # Every option it uses is one `pixseek index --help` lists...
    env = checkout_env(COLUMNS="200", NO_COLOR="1", TERM="dumb")
    cmd = [sys.executable, "-m", "pixseek", "index", "--help"]
    shown = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, check=True).stdout
    listed = set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", shown))
    used = {arg.split("=", 1)[0] for arg in argv if arg.startswith("--")}
    assert used, argv
    assert used <= listed, f"not options of `pixseek index`: {sorted(used - listed)}"

    # ... and the whole line parses (types and values included) without running anything.
    from pixseek.cli import app

    group = typer.main.get_command(app)
    with group.make_context("pixseek", argv[1:], resilient_parsing=False) as ctx:
        index = group.get_command(ctx, "index")
        assert index is not None
        with index.make_context("index", argv[2:], parent=ctx) as sub:
            params = sub.params
    assert params["folder"].startswith("s3://")
    assert str(params["db"]).startswith("s3://")
    assert params["ray"] >= 1
    assert params["json_out"] is True


def test_readme_points_at_the_manifest() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "deploy/kuberay/rayjob.yaml" in readme
    assert "kubectl apply -f deploy/kuberay/rayjob.yaml" in readme
