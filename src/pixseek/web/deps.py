"""What routes need, as typed dependencies: the app's state is built once in the lifespan."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, TypeVar

import numpy as np
from fastapi import Depends, Request

from pixseek.errors import AmbiguousPathError, NotInIndexError, QueryError
from pixseek.services import ImageRecord, Index, ObjectStoreSource
from pixseek.services.duplicates import DuplicateReport
from pixseek.settings import Settings
from pixseek.web.batching import EmbedBatcher, ModelRunner
from pixseek.web.metrics import Metrics
from pixseek.web.thumbnails import ThumbnailCache

T = TypeVar("T")


@dataclass
class AppState:
    """Everything loaded once per app: settings, index (with its model), batcher, caches, metrics."""

    settings: Settings
    index: Index
    runner: ModelRunner
    batcher: EmbedBatcher
    thumbnails: ThumbnailCache
    metrics: Metrics
    object_sources: dict[str, ObjectStoreSource] = field(default_factory=dict)  # by root URI
    warmed: threading.Event = field(default_factory=threading.Event)  # set once the ANN (if used) is loaded
    warm_error: str | None = None
    duplicate_reports: dict[tuple[int, float, int, str | None], DuplicateReport] = field(default_factory=dict)
    duplicates_lock: threading.Lock = field(default_factory=threading.Lock)  # one computation at a time

    def object_source(self, root: str) -> ObjectStoreSource:
        """The store behind rows indexed from `root` (credentials from the AWS_* variables), made once."""
        if root not in self.object_sources:
            self.object_sources[root] = ObjectStoreSource(root)
        return self.object_sources[root]


def get_state(request: Request) -> AppState:
    return request.app.state.pixseek


State = Annotated[AppState, Depends(get_state)]


def find_record(index: Index, id_or_path: str) -> ImageRecord:
    """An indexed image by id or indexed path; NotInIndexError (404) for anything else, and
    AmbiguousPathError (409) for a relative path held under several roots."""
    return _found(index.get, id_or_path)


def find_stored(index: Index, id_or_path: str) -> tuple[str, np.ndarray]:
    """The id and stored vector of an indexed image, like find_record, from memory (no catalog read)."""
    return _found(index.stored, id_or_path)


def _found(lookup: Callable[[str], T], id_or_path: str) -> T:
    if "\x00" in id_or_path:
        raise NotInIndexError("not in the index")
    try:
        return lookup(id_or_path)
    except (AmbiguousPathError, NotInIndexError):
        raise  # 409 listing the matches; 404 worded as every unknown id is (a like, a mark)
    except QueryError:
        raise NotInIndexError(f"{id_or_path!r} is not in the index") from None
