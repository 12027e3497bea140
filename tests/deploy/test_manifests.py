"""deploy/kubernetes/ is applied by users as is: every manifest must pass `kubernetes-validate --strict`
offline, and every pixseek command line in it (and in deploy/compose.yaml) must be one this checkout's CLI
accepts, so a renamed option breaks a test rather than a user's Deployment, CronJob or compose project."""

from __future__ import annotations

import functools
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.subprocess_env import REPO, checkout_env

yaml = pytest.importorskip("yaml")
kubernetes_validate = pytest.importorskip(
    "kubernetes_validate",
    reason="kubernetes-validate is not installed (pip install kubernetes-validate; the dev extra has it)",
)

MANIFESTS = sorted((REPO / "deploy" / "kubernetes").glob("*.yaml"))
COMPOSE = REPO / "deploy" / "compose.yaml"
# The oldest Kubernetes still commonly run, and the newest the validator knows.
VERSIONS = ["1.29.0", kubernetes_validate.latest_version()]
# Variables the manifests substitute into args with $(NAME): they come from the ConfigMap.
ENV_REF = re.compile(r"\$\(([A-Z_][A-Z0-9_]*)\)")


def _documents() -> list[tuple[Path, dict[str, Any]]]:
    docs = []
    for path in MANIFESTS:
        docs += [(path, doc) for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]
    return docs


DOCS = _documents()


def _id(item: tuple[Path, dict[str, Any]]) -> str:
    path, doc = item
    return f"{path.name}:{doc['kind']}/{doc['metadata']['name']}"


def test_there_are_manifests_for_serving_and_indexing() -> None:
    kinds = {doc["kind"] for _, doc in DOCS}
    assert {"Deployment", "Service", "HorizontalPodAutoscaler", "ConfigMap", "Secret", "CronJob"} <= kinds


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("item", DOCS, ids=_id)
def test_manifest_is_valid_kubernetes_strictly(item: tuple[Path, dict[str, Any]], version: str) -> None:
    _, doc = item
    try:
        kubernetes_validate.validate(doc, version, strict=True)
    except kubernetes_validate.SchemaNotFoundError:
        kind = f"{doc['apiVersion']} {doc['kind']}"
        pytest.skip(f"{kind} is a custom resource: kubernetes-validate has schemas for built-in kinds only")


def _pod_specs(doc: dict[str, Any]) -> list[dict[str, Any]]:
    spec = doc.get("spec", {})
    if doc["kind"] == "CronJob":
        return [spec["jobTemplate"]["spec"]["template"]["spec"]]
    if "template" in spec:
        return [spec["template"]["spec"]]
    return []


def _pixseek_command_lines() -> list[tuple[str, list[str]]]:
    """(where, argv) of every container that runs pixseek: the image's entrypoint is `pixseek`."""
    lines = []
    for path, doc in DOCS:
        for pod in _pod_specs(doc):
            for c in pod.get("containers", []) + pod.get("initContainers", []):
                argv = [*c.get("command", ["pixseek"]), *c.get("args", [])]
                if argv and Path(argv[0]).name == "pixseek":
                    lines.append((f"{path.name}:{c['name']}", argv))
    compose = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    for name, service in compose["services"].items():  # the image's entrypoint is `pixseek`
        lines.append((f"compose.yaml:{name}", ["pixseek", *service["command"]]))
    return lines


@functools.cache
def _options_of(command: str) -> frozenset[str]:
    env = checkout_env(COLUMNS="200", NO_COLOR="1", TERM="dumb")
    cmd = [sys.executable, "-m", "pixseek", command, "--help"]
    shown = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, check=True).stdout
    return frozenset(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", shown))


def test_the_deployment_serves_and_the_cronjob_indexes() -> None:
    commands = {(where.split(":")[0], argv[1]) for where, argv in _pixseek_command_lines()}
    assert {("deployment.yaml", "serve"), ("cronjob.yaml", "index")} <= commands
    assert {("compose.yaml", "serve"), ("compose.yaml", "index")} <= commands


def _where(value: object) -> str | None:
    return value if isinstance(value, str) else None


@pytest.mark.parametrize(("where", "argv"), _pixseek_command_lines(), ids=_where)
def test_command_line_uses_only_options_its_command_has(where: str, argv: list[str]) -> None:
    used = {arg.split("=", 1)[0] for arg in argv if arg.startswith("--")}
    unknown = used - _options_of(argv[1])
    assert not unknown, f"{where}: not options of `pixseek {argv[1]}`: {sorted(unknown)}"

    # ... and the whole line parses (types and values included), with $(VAR)s given plausible values.
    import typer

    from pixseek.cli import app

    args = [ENV_REF.sub(lambda m: _config_value(m.group(1)), a) for a in argv[1:]]
    group = typer.main.get_command(app)
    with group.make_context("pixseek", args, resilient_parsing=False) as ctx:
        sub = group.get_command(ctx, args[0])
        assert sub is not None, where
        with sub.make_context(args[0], args[1:], parent=ctx):
            pass


def _config_value(name: str) -> str:
    """A variable that args substitute must exist in the ConfigMap (else Kubernetes passes it literally)."""
    data = next(doc["data"] for _, doc in DOCS if doc["kind"] == "ConfigMap")
    assert name in data, f"$({name}) is not in the ConfigMap"
    return str(data[name])
