"""List an S3 prefix with each object's ETag, one listing per first-level folder, in parallel.

pyarrow's filesystems give size and last-modified but no ETag, and S3's last-modified has one-second
resolution: an object overwritten with the same size in the same second looks unchanged. The ETag
changes with the bytes, so listing through boto3 (extra `[s3]`) catches that overwrite too. The first
level under the prefix is where labels live, so it is also the natural unit of parallel listing.
"""

from __future__ import annotations

import calendar
import datetime as dt
import importlib.util
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from pixseek.errors import FolderNotFoundError
from pixseek.locations import s3_options

LIST_THREADS = 16


@dataclass(frozen=True, slots=True)
class ListedObject:
    """One object under the prefix: key relative to it, size, last-modified (ns) and ETag."""

    path: str
    size: int
    mtime_ns: int
    etag: str


def can_list_etags() -> bool:
    """True when boto3 is installed (extra `[s3]`); otherwise listing falls back to pyarrow, without ETags."""
    return importlib.util.find_spec("boto3") is not None


def list_s3(bucket: str, prefix: str, options: Mapping[str, str], *, uri: str) -> list[ListedObject]:
    """Every object under `bucket/prefix`; first-level folders are listed concurrently."""
    from botocore.exceptions import BotoCoreError, ClientError

    client = _client(options)
    base = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
    try:
        top, folders = _list_level(client, bucket, base)
        with ThreadPoolExecutor(max_workers=max(1, min(LIST_THREADS, len(folders)))) as pool:
            nested = pool.map(lambda folder: list(_list_all(client, bucket, folder)), folders)
            found = top + [obj for chunk in nested for obj in chunk]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NoSuchBucket":
            raise FolderNotFoundError(f"cannot index {uri}: no such bucket") from None
        raise FolderNotFoundError(f"cannot list {uri}: {exc}") from None
    except BotoCoreError as exc:
        raise FolderNotFoundError(f"cannot list {uri}: {exc}") from None
    return [
        ListedObject(o["Key"][len(base) :], int(o["Size"]), _ns(o["LastModified"]), o["ETag"].strip('"'))
        for o in found
        if not o["Key"].endswith("/")  # a "folder" marker object, not a file
    ]


def _client(options: Mapping[str, str]) -> Any:
    """A boto3 S3 client configured like pyarrow's filesystem: the same variables and storage options."""
    import boto3

    kwargs = s3_options(options)
    client_args: dict[str, Any] = {}
    if endpoint := kwargs.get("endpoint_override"):
        client_args["endpoint_url"] = f"{kwargs.get('scheme', 'https')}://{endpoint}"
    names = {
        "access_key": "aws_access_key_id", "secret_key": "aws_secret_access_key",
        "session_token": "aws_session_token", "region": "region_name",
    }  # fmt: skip
    client_args |= {boto: kwargs[ours] for ours, boto in names.items() if kwargs.get(ours)}
    return boto3.session.Session().client("s3", **client_args)


def _list_level(client: Any, bucket: str, base: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Objects directly under `base`, and the first-level folder prefixes below it."""
    objects: list[dict[str, Any]] = []
    folders: list[str] = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=base, Delimiter="/"):
        objects.extend(page.get("Contents", []))
        folders.extend(p["Prefix"] for p in page.get("CommonPrefixes", []))
    return objects, folders


def _list_all(client: Any, bucket: str, base: str) -> Iterator[dict[str, Any]]:
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=base):
        yield from page.get("Contents", [])


def _ns(when: dt.datetime) -> int:
    """Last-modified as Unix nanoseconds, exactly as pyarrow reports the same timestamp."""
    return calendar.timegm(when.utctimetuple()) * 1_000_000_000 + when.microsecond * 1000
