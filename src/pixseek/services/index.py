"""`pixseek.Index`: wires settings -> embedder, catalog and vector index; add, search, get, info."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from pixseek.catalog import Catalog, ImageRecord
from pixseek.catalog.db_path import check_db_path, check_new_db_path
from pixseek.catalog.lease import Lease
from pixseek.errors import FolderNotFoundError, QueryError, StorageError
from pixseek.indexing import IndexReport, run_index
from pixseek.indexing.pipeline import EmbedStage
from pixseek.indexing.report import RunProgress
from pixseek.indexing.sources import ObjectStoreSource, open_source
from pixseek.locations import Location, as_location, root_key
from pixseek.search import SearchFilter, SearchMatrix
from pixseek.search.adapter import DEFAULT_METHOD as DEFAULT_ADAPTER
from pixseek.search.adapter import QueryAdapter
from pixseek.search.duplicates import DEFAULT_NEIGHBOURS
from pixseek.search.duplicates import DEFAULT_THRESHOLD as DEFAULT_DUPLICATE_THRESHOLD
from pixseek.search.page_cache import FileWarmup
from pixseek.search.query import Query, as_marks
from pixseek.services.adapting import (
    ActiveAdapter,
    AdaptReport,
    adapt_catalog,
    check_adapter_method,
)
from pixseek.services.duplicates import DuplicateReport, check_limits, index_duplicates
from pixseek.services.duplicates import Progress as DuplicateProgress
from pixseek.services.loading import page_cache_warmup, readiness_of, remove_saved_ann_files
from pixseek.services.querying import as_filter, as_query, check_k, query_vector, search_one, unit_query_rows
from pixseek.services.results import IndexArrays, IndexInfo, Readiness, arrays_of
from pixseek.services.served import ServedCatalog
from pixseek.services.writing import (
    add_ray_info,
    check_model,
    fenced,
    forget_root,
    model_ref_for,
    open_for_writing,
    overlapping_roots,
    ray_stage_for,
    run_options,
    write_lock_for,
)
from pixseek.settings import Settings, load_settings
from pixseek.types import Embedder, SearchHit

log = logging.getLogger(__name__)


class Index:
    """An image index in a LanceDB folder: add folders to it, search it by image, text or example."""

    def __init__(
        self,
        db: Location = "pixseek.db",
        *,
        model: str | None = None,
        settings: Settings | None = None,
        embedder: Embedder | None = None,
    ) -> None:
        self.db = as_location(db)  # a folder, or an object-store URI (s3://bucket/index)
        self.settings = settings or load_settings()
        self._model = model
        self._embedder = embedder
        self._loading = threading.Lock()
        self._injected = embedder is not None
        self._adapter = ActiveAdapter()
        self._warmup: FileWarmup | None = None
        check_db_path(self.db)
        self._served = ServedCatalog(self.db, self.settings)
        meta = self._served.opened.meta if self._served.opened is not None else None
        asked_another = meta is not None and model is not None and model not in (meta.model, meta.model_ref)
        if meta is not None and (embedder is not None or asked_another):
            check_model(self.db, self.embedder, meta)

    # -- model -----------------------------------------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        """The model, loaded on first use: the one asked for, else the index's own, else the default.
        Threads that ask at once wait for one load (each used to load its own copy)."""
        if self._embedder is None:
            with self._loading:
                if self._embedder is None:
                    self._embedder = self._load_embedder()
        return self._embedder

    def _load_embedder(self) -> Embedder:
        from pixseek.models.registry import load_embedder

        opened = self._served.opened
        stored = opened.meta.model_ref if opened is not None else None
        embedder = load_embedder(self._model or stored or self.settings.model, settings=self.settings)
        if opened is not None:
            check_model(self.db, embedder, opened.meta)
        return embedder

    # -- writing ---------------------------------------------------------------------------------
    def add(
        self,
        folder: str | Path,
        *,
        progress: Callable[[int, int], None] | None = None,
        on_progress: Callable[[RunProgress], None] | None = None,
        workers: int | None = None,
        batch_size: int | None = None,
        include_hidden: bool | None = None,
        lock_timeout: float = 0.0,
        commit_rows: int | None = None,
        ray_actors: int | None = None,
        storage_options: Mapping[str, str] | None = None,
        rebuild_ann: bool = False,
    ) -> IndexReport:
        """Index `folder` (a local folder, or an object-store prefix such as s3://bucket/photos)
        incrementally. Validates everything before the first write.

        `lock_timeout` seconds to wait for another writer (0: IndexBusyError at once);
        `commit_rows` rows per commit (smaller: less lost to a crash, more versions to compact);
        `ray_actors` > 0 embeds on Ray Data with that many model replicas (extra `[ray]`);
        `storage_options` for the object store, on top of the standard AWS_* variables;
        `progress(done, to_embed)` follows the model stage, `on_progress(RunProgress)` every count;
        `rebuild_ann` deletes the saved ANN files and builds the one this size uses afresh.
        """
        try:
            source = open_source(folder, storage_options=storage_options)
        except FolderNotFoundError as exc:
            if Catalog.exists(self.db) and self._read_catalog().holds_root(root_key(folder)):
                raise FolderNotFoundError(f"{exc}; its images are still indexed: `pixseek forget {folder}` "
                                          "(Python: Index.forget) drops them") from None  # fmt: skip
            raise
        if isinstance(source, ObjectStoreSource):
            source.check()  # a missing bucket or refused credentials: before the catalog is made
        check_new_db_path(self.db)
        embedder = self.embedder  # loads the model and checks it against the index, writing nothing
        opts = run_options(
            self.settings, workers=workers, batch_size=batch_size, include_hidden=include_hidden,
            commit_rows=commit_rows,
        )  # fmt: skip
        with write_lock_for(self.db, lock_timeout) as lease:
            catalog = open_for_writing(self.db, embedder, self._model)
            for other in overlapping_roots(source.root, catalog.roots()):
                log.warning(
                    "%s overlaps %s, which this index already holds: images under both are indexed twice, "
                    "under each root (`pixseek forget ROOT` drops one)", source.root, other,
                )  # fmt: skip
            self._served.writing(catalog)
            stage = self._ray_stage(ray_actors, lease) if ray_actors else None
            with fenced(catalog, lease):
                report = run_index(
                    catalog, embedder, source, opts, progress=progress, stage=stage, on_progress=on_progress
                )
        self._served.committed()
        if ray_actors:
            add_ray_info(report, ray_actors)
        if rebuild_ann:
            remove_saved_ann_files(self.db, self.settings)
            self._matrix().forget_ann()
        report.ann_seconds = self._ready_ann(catalog, changed=report.changed or rebuild_ann)
        return report

    def forget(self, root: str | Path, *, lock_timeout: float = 0.0) -> int:
        """Remove every image indexed from `root` (a folder, which need not exist any more, or a prefix
        URI) and return how many; NotInIndexError, naming the indexed ones, when `root` is not one."""
        catalog = self._read_catalog()
        with write_lock_for(self.db, lock_timeout) as lease, fenced(catalog, lease):
            removed = forget_root(catalog, root_key(root))
        self._served.committed()
        self._ready_ann(catalog, changed=True)
        return removed

    def _ready_ann(self, catalog: Catalog, *, changed: bool) -> float:
        """After a commit, load the ANN index now, or build it (IVF-Flat or compressed) past the delta
        bound, so the first search is fast; the seconds it took (0 when searches use none)."""
        uses_ann = catalog.count() >= min(self.settings.ann_threshold, self.settings.compressed_threshold)
        if not (uses_ann and changed):
            return 0.0
        started = time.perf_counter()
        self._matrix().ann(self.db, writer=True)
        return time.perf_counter() - started

    def _ray_stage(self, actors: int, lease: Lease | None) -> EmbedStage:
        model_ref = None if self._injected else model_ref_for(self._model, self.embedder)
        return ray_stage_for(
            self.db, lease, actors, self.embedder, model_ref=model_ref, settings=self.settings
        )

    # -- reading ---------------------------------------------------------------------------------
    def _read_catalog(self) -> Catalog:
        return self._served.catalog()

    def refresh(self) -> bool:
        """Reload the in-memory matrix if the catalog version changed (one cheap version check).
        Thread-safe: web request threads share one Index, and only one of them reloads."""
        return self._served.refresh()

    def _matrix(self) -> SearchMatrix:
        return self._served.matrix()

    def info(self) -> IndexInfo:
        """What the catalog holds. A stored adapter that cannot be read shows as {"error": why}, so the
        command that diagnoses a catalog still answers (searching through it fails, naming the remedy)."""
        catalog = self._read_catalog()
        meta = catalog.meta
        try:
            adapter = self.adapter()
            shown = adapter.info() if adapter is not None else None
        except StorageError as exc:
            shown = {"error": str(exc)}
        return IndexInfo(
            catalog.count(), meta.model, meta.dim, catalog.bytes_on_disk(), meta.last_indexed, shown
        )

    def served(self) -> tuple[int, str]:
        """(images, model) of the catalog version in memory, with no read of the store: 0 before any load."""
        loaded, catalog = self._served.loaded, self._served.opened
        return (len(loaded) if loaded is not None else 0, catalog.meta.model if catalog is not None else "")

    def adapter(self) -> QueryAdapter | None:
        """The query adapter `pixseek adapt` trained for this model, if any (see search.adapter)."""
        return self._adapter.get(self._read_catalog())

    def adapt(self, *, method: str = DEFAULT_ADAPTER, lock_timeout: float = 0.0) -> AdaptReport:
        """Train an adapter (`method`: class-posterior, class-direction or query-residual) on the folder
        labels and store it in the catalog, replacing any. Searches use it from then on unless a query
        says `use_adapter=False`."""
        check_adapter_method(method)  # before the lock: a typo waits for no one
        catalog = self._read_catalog()  # no index here: its error, and no lock file left behind
        with write_lock_for(self.db, lock_timeout) as lease, fenced(catalog, lease):
            report = adapt_catalog(catalog, self._matrix(), method=method, lease=lease)
        self._adapter.forget()
        return report

    def remove_adapter(self, *, lock_timeout: float = 0.0) -> bool:
        """Drop the stored adapter: True if there was one, even one this pixseek ignores (trained for
        another model fingerprint, or by a newer pixseek with a method it does not know)."""
        catalog = self._read_catalog()
        with write_lock_for(self.db, lock_timeout) as lease, fenced(catalog, lease):
            had = catalog.set_adapter(None)
        self._adapter.forget()
        return had

    def readiness(self) -> Readiness:
        """What a load balancer needs: the version being served and whether its ANN index is loaded."""
        m = self._matrix()
        used = m.compressed or self._ann_folder(m, None) is not None
        return readiness_of(m, self._read_catalog().meta.model, ann_used=used, warmup=self._warmup)

    def warm(self) -> None:
        """Load (or build) the ANN index now if searches will use it, so no user request waits for it;
        past RAM, also read its vector file into the page cache (setting `ann_warmup`)."""
        m = self._matrix()
        folder = self._ann_folder(m, None)
        if folder is not None or m.compressed:
            index = m.ann(folder)
            if self.settings.ann_warmup != "off":
                self._warmup = page_cache_warmup(index, self._warmup)
                if self._warmup is not None and self.settings.ann_warmup == "wait":
                    self._warmup.wait()

    def labels(self) -> list[str]:
        return self._matrix().rows.distinct_labels()

    def arrays(self, *, root: str | Path | None = None) -> IndexArrays:
        """All rows, or only those indexed from `root` (an index may hold several folders)."""
        return arrays_of(self._matrix(), root)

    def stored(self, id_or_path: str) -> tuple[str, np.ndarray]:
        """The id and stored vector of a row given by id or path, from one catalog version in memory."""
        m = self._matrix()
        row = m.row(id_or_path)
        return m.ids[row], m.vector(row)

    def get(self, id_or_path: str) -> ImageRecord:
        """A row by id, by path relative to its root, or by absolute path."""
        m = self._matrix()
        record = self._read_catalog().record(m.ids[m.row(id_or_path)])
        if record is None:  # removed between the snapshot and now
            raise QueryError(f"{id_or_path!r} is not in the index")
        return record

    # -- searching -------------------------------------------------------------------------------
    def query_vector(self, query: Query | None = None, **terms: Any) -> np.ndarray:
        """The weighted sum of positive minus negative terms, renormalised (see search.query). Give a
        `Query`, or its terms as keywords (`image=`, `text=`, `like=`, `minus_image=` ...; see Query.of)."""
        return self._query(self._matrix(), as_query(query, terms))

    def _query(self, m: SearchMatrix, query: Query) -> np.ndarray:
        return query_vector(m, query, lambda: self.embedder)

    def search(
        self,
        query: Query | None = None,
        *,
        k: int = 5,
        filters: SearchFilter | None = None,
        ann: bool | None = None,
        **terms: Any,
    ) -> list[SearchHit]:
        """Top-k for one `Query` (or its terms and marks as keywords: `image=`, `text=`, `like=`,
        `minus_*=`, `positive=`, `negative=`, `include_marked=`, `feedback=`; see Query.of).

        Images given by `like` are left out of their own results. Relevant / irrelevant marks re-rank
        with relevance feedback; marked images are left out unless `include_marked`. With relevant marks,
        the query terms may be left out.
        """
        query = as_query(query, terms)
        self._check_k(k)
        filters = as_filter(filters)
        m = self._matrix()
        return search_one(
            m, query, lambda: self.embedder, k=k, filters=filters,
            adapter=lambda: self.adapter() if query.use_adapter else None,
            ann_folder=self._ann_folder(m, ann),
        )  # fmt: skip

    def search_vectors(
        self,
        vectors: np.ndarray,
        *,
        k: int = 5,
        filters: SearchFilter | None = None,
        exclude_ids: Sequence[str] = (),
        ann: bool | None = None,
    ) -> list[list[SearchHit]]:
        """Batched top-k of one vector or an (n, dim) array, each scaled to length 1 (scores are cosines);
        `exclude_ids` are row ids to leave out. ANN is used from settings.ann_threshold rows (or when
        ann=True) unless a filter is given: filtered searches are exact over the rows the filter allows."""
        self._check_k(k)
        filters = as_filter(filters)
        excluded = as_marks(exclude_ids, "exclude_ids")
        m = self._matrix()
        rows = unit_query_rows(vectors, m.dim)
        return m.search(rows, k=k, filters=filters, exclude_ids=excluded, ann_folder=self._ann_folder(m, ann))

    def duplicates(
        self,
        *,
        threshold: float = DEFAULT_DUPLICATE_THRESHOLD,
        neighbours: int = DEFAULT_NEIGHBOURS,
        use_adapter: bool = True,
        progress: DuplicateProgress | None = None,
    ) -> DuplicateReport:
        """Groups of near-duplicates: the same picture resized, re-encoded, lightly cropped, brightened or
        converted; exact copies too. `threshold` is the aligned pixel correlation a pair must reach. An
        active adapter maps each image's vector before it proposes neighbours; pixels still decide."""
        check_limits(threshold, neighbours)  # before any loading
        m = self._matrix()
        folder = self._ann_folder(m, None)
        index = m.ann(folder) if folder is not None or m.compressed else m.exact
        adapter = self.adapter() if use_adapter else None
        return index_duplicates(
            m, self._read_catalog(), index, threshold=threshold, neighbours=neighbours, progress=progress,
            max_pixels=self.settings.max_image_pixels,
            query_map=adapter.apply if adapter is not None else None,
        )  # fmt: skip

    def _check_k(self, k: int) -> None:
        check_k(k, self.settings.max_k)

    def _ann_folder(self, m: SearchMatrix, ann: bool | None) -> Location | None:
        """Where the ANN index lives (beside the catalog: its folder or its prefix) when this search
        should use it, else None (exact)."""
        use = len(m) >= self.settings.ann_threshold if ann is None else ann
        return self.db if use else None

    # -- lifecycle -------------------------------------------------------------------------------
    def close(self) -> None:
        """Drop the catalog and vectors held in memory (the model stays loaded). Nothing needs closing for
        safety: every write commits before it returns. A later call opens the catalog again."""
        self._served.close()

    def __enter__(self) -> Index:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
