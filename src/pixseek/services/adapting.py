"""`pixseek adapt`: train a query adapter on the index's folder labels and store it in the catalog, and
find the active one for searches (re-read at most every ADAPTER_CHECK_SECONDS, so a replica picks up a
new or removed adapter within that time without paying a table read per request)."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from pixseek.catalog import AdapterRecord, Catalog
from pixseek.catalog.lease import Lease, renewing
from pixseek.errors import QueryError
from pixseek.evaluation.adapters import DEFAULT_METHOD, train_adapter
from pixseek.locations import Location
from pixseek.search import SearchFilter, SearchMatrix
from pixseek.search.adapter import METHODS, RERANK_POOL, QueryAdapter
from pixseek.types import SearchHit

ADAPTER_CHECK_SECONDS = 5.0
MAX_TRAINING_ROWS = 20_000  # training time grows with the rows: 10,000 took 11 s here (query-residual: 53 s)
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AdaptReport:
    """What `pixseek adapt` reports."""

    method: str
    trained_on: int
    classes: int
    epochs: int
    validation_loss: float | None
    seconds: float

    def to_dict(self) -> dict:
        return asdict(self)


def training_rows(labels: Sequence[str | None], *, cap: int | None = None, seed: int = 0) -> np.ndarray:
    """Sorted rows to train on: every labelled row, or a seeded random `cap` (MAX_TRAINING_ROWS) of them
    in a larger catalog (training time grows with the rows, and a catalog past RAM must not be read whole)."""
    cap = MAX_TRAINING_ROWS if cap is None else cap
    labelled = np.array([i for i, label in enumerate(labels) if label], dtype=np.int64)
    if len(labelled) <= cap:
        return labelled
    return np.sort(np.random.default_rng(seed).choice(labelled, size=cap, replace=False))


def check_adapter_method(method: str) -> None:
    if method not in METHODS:
        raise QueryError(f"unknown adapter method {method!r}; choose one of {', '.join(METHODS)}")


def adapt_catalog(catalog: Catalog, m: SearchMatrix, *, method: str, lease: Lease | None) -> AdaptReport:
    """Train a `method` adapter on the labelled rows of `m` and store it in `catalog`. The caller holds
    the write lock, and checked `method` before taking it."""
    rows = training_rows(m.labels)
    labels = [str(m.labels[int(i)]) for i in rows]
    return train_and_store(catalog, m.row_vectors(rows), labels, method=method, lease=lease)


def train_and_store(
    catalog: Catalog,
    vectors: np.ndarray,
    labels: list[str],
    *,
    method: str = DEFAULT_METHOD,
    lease: Lease | None = None,
) -> AdaptReport:
    """Fit the adapter on labelled vectors and store it, replacing any. The caller holds the write lock;
    an object-store `lease` is renewed while training runs (it can outlast the lease's time)."""
    started = time.perf_counter()
    with renewing(lease):
        trained = train_adapter(vectors, labels, method=method)
    created = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    record = AdapterRecord(
        trained.method,
        catalog.meta.fingerprint,
        trained.classes,
        trained.trained_on,
        created,
        trained.matrix,
        trained.strength,
        neighbours=trained.neighbours,
        mix=trained.mix,
    )
    catalog.set_adapter(record)
    seconds = time.perf_counter() - started
    loss = None if trained.validation_loss is None else round(trained.validation_loss, 4)
    return AdaptReport(
        trained.method, trained.trained_on, len(trained.classes), trained.epochs, loss, round(seconds, 2)
    )


def as_query_adapter(record: AdapterRecord | None, fingerprint: str) -> QueryAdapter | None:
    """The adapter to apply, or None; one trained on another model's vectors is ignored, with a warning."""
    if record is None:
        return None
    if record.fingerprint != fingerprint:
        log.warning(
            "ignoring the stored adapter: it was trained for model fingerprint %s", record.fingerprint
        )
        return None
    if record.method not in METHODS:  # stored by a newer pixseek
        log.warning("ignoring the stored adapter: this pixseek does not know its method %r", record.method)
        return None
    return QueryAdapter(
        record.matrix,
        record.method,
        record.classes,
        record.trained_on,
        record.created,
        record.strength,
        neighbours=record.neighbours,
        mix=record.mix,
    )


class ActiveAdapter:
    """The catalog's adapter as last read, re-read after ADAPTER_CHECK_SECONDS or when told to forget."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._adapter: QueryAdapter | None = None
        self._read_at: float | None = None

    def get(self, catalog: Catalog) -> QueryAdapter | None:
        with self._lock:
            now = time.monotonic()
            if self._read_at is None or now - self._read_at >= ADAPTER_CHECK_SECONDS:
                self._adapter = as_query_adapter(catalog.adapter(), catalog.meta.fingerprint)
                self._read_at = now
            return self._adapter

    def forget(self) -> None:
        with self._lock:
            self._read_at = None


def adapted_search(
    m: SearchMatrix,
    adapter: QueryAdapter,
    query: np.ndarray,
    *,
    k: int,
    filters: SearchFilter | None,
    exclude_ids: Sequence[str],
    ann_folder: Location | None,
) -> list[SearchHit]:
    """Top-k for one query vector through the adapter. A query-only adapter maps the query and the index
    answers; one that re-scores both sides (class-posterior) re-ranks the RERANK_POOL nearest candidates
    (or k, if more) by its own scores, ties by row. Past RAM the pool comes from the codes with no refine
    of its own, since its rows are read and scored exactly here."""
    mapped = adapter.apply(query)
    if not adapter.reranks:
        return m.search(mapped, k=k, filters=filters, exclude_ids=exclude_ids, ann_folder=ann_folder)[0]
    rows, _ = m.search_rows(
        mapped, k=max(k, RERANK_POOL), filters=filters, exclude_ids=exclude_ids, ann_folder=ann_folder,
        refine=1,  # past RAM: the pool is re-scored below, so 200 rows are read, not 50 x 200
    )[0]  # fmt: skip
    if not len(rows):
        return []
    rows = np.sort(rows)
    scores = adapter.scores(mapped, m.row_vectors(rows))
    order = np.lexsort((rows, -scores))[:k]
    return m.hits(rows[order].tolist(), scores[order].tolist())
