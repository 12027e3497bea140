"""`pixseek.Index`: wires settings -> embedder, catalog and vector index; add, search, get, info."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from numbers import Integral
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from pixseek.catalog import Catalog, ImageRecord, IndexMeta
from pixseek.catalog.lease import Lease
from pixseek.catalog.store import check_db_path, check_new_db_path
from pixseek.catalog.version_watch import VersionWatch
from pixseek.errors import ModelMismatchError, QueryError, SchemaVersionError
from pixseek.indexing import IndexReport, RunOptions, run_index
from pixseek.indexing.pipeline import EmbedStage
from pixseek.indexing.report import RunProgress
from pixseek.indexing.sources import open_source
from pixseek.locations import Location, as_location, is_object_store
from pixseek.search import SearchFilter, SearchMatrix, combine_terms
from pixseek.search.adapter import DEFAULT_METHOD as DEFAULT_ADAPTER
from pixseek.search.adapter import METHODS as ADAPTER_METHODS
from pixseek.search.adapter import QueryAdapter
from pixseek.search.ann import remove_saved as remove_saved_ann
from pixseek.search.ann import saved_for
from pixseek.search.compressed import CompressedIndex, with_refine
from pixseek.search.delta import DeltaIndex
from pixseek.search.duplicates import DEFAULT_NEIGHBOURS
from pixseek.search.duplicates import DEFAULT_THRESHOLD as DEFAULT_DUPLICATE_THRESHOLD
from pixseek.search.feedback import DEFAULT_METHOD as DEFAULT_FEEDBACK
from pixseek.search.page_cache import FileWarmup
from pixseek.search.protocol import VectorIndex
from pixseek.search.query import Query, Term
from pixseek.services.adapting import (
    ActiveAdapter,
    AdaptReport,
    adapted_search,
    train_and_store,
    training_rows,
)
from pixseek.services.duplicates import SELF_JOIN_REFINE, DuplicateReport, find_duplicates, original_reader
from pixseek.services.duplicates import Progress as DuplicateProgress
from pixseek.services.feedback import feedback_search
from pixseek.services.loading import ann_copy_folder, load_matrix, page_cache_warmup
from pixseek.services.results import IndexArrays, IndexInfo, Readiness
from pixseek.services.writing import default_workers, fenced, ray_stage_for, write_lock_for
from pixseek.settings import Settings
from pixseek.types import Embedder, SearchHit


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
        self.settings = settings or Settings()
        self._model = model
        self._embedder = embedder
        self._injected = embedder is not None
        self._loaded: SearchMatrix | None = None
        self._refresh_lock = threading.Lock()
        self._version_watch = VersionWatch(self.db, interval=self.settings.version_check_seconds)
        self._adapter = ActiveAdapter()
        self._warmup: FileWarmup | None = None
        self._catalog: Catalog | None = None
        self._open_error: SchemaVersionError | None = None
        check_db_path(self.db)
        if Catalog.exists(self.db):
            try:
                self._catalog = Catalog.open(self.db)
            except SchemaVersionError as exc:  # `add` may still migrate it under the write lock
                self._open_error = exc
        if self._catalog is not None:
            meta = self._catalog.meta
            if embedder is not None or (model is not None and model not in (meta.model, meta.model_ref)):
                self._check_model(self.embedder, meta)

    # -- model -----------------------------------------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        """The model, loaded on first use: the one asked for, else the index's own, else the default."""
        if self._embedder is None:
            from pixseek.models.registry import load_embedder

            stored = self._catalog.meta.model_ref if self._catalog else None
            ref = self._model or stored or self.settings.model
            self._embedder = load_embedder(ref, settings=self.settings)
            if self._catalog is not None:
                self._check_model(self._embedder, self._catalog.meta)
        return self._embedder

    def _check_model(self, embedder: Embedder, meta: IndexMeta) -> None:
        if embedder.fingerprint != meta.fingerprint or embedder.dim != meta.dim:
            raise ModelMismatchError(
                f"the index at {self.db} was built with model {meta.model!r} (fingerprint "
                f"{meta.fingerprint}, dim {meta.dim}), not {embedder.name!r} (fingerprint "
                f"{embedder.fingerprint}, dim {embedder.dim}); use --model {meta.model_ref} or another --db"
            )

    def _model_ref(self, embedder: Embedder) -> str:
        """What load_embedder needs to get this model back: the name or folder asked for, else the
        injected embedder's folder (OnnxEmbedder has one), else its name."""
        folder = getattr(embedder, "folder", None)
        ref = self._model or (str(folder) if folder is not None else embedder.name)
        return str(Path(ref).resolve()) if Path(ref).is_dir() else ref

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
        source = open_source(folder, storage_options=storage_options)
        check_new_db_path(self.db)
        embedder = self.embedder  # loads the model and checks it against the index, writing nothing
        s = self.settings
        opts = RunOptions(
            batch_size=batch_size or s.batch_size,
            workers=default_workers(workers if workers is not None else s.workers),
            include_hidden=s.include_hidden if include_hidden is None else include_hidden,
            **({"commit_rows": commit_rows} if commit_rows else {}),
        )
        with write_lock_for(self.db, lock_timeout) as lease:
            if Catalog.exists(self.db):
                catalog = Catalog.open(self.db, allow_migration=True)
                self._check_model(embedder, catalog.meta)
            else:
                meta = IndexMeta(embedder.name, self._model_ref(embedder), embedder.fingerprint, embedder.dim)
                catalog = Catalog.create(self.db, meta)
            self._catalog, self._open_error = catalog, None
            stage = self._ray_stage(ray_actors, lease) if ray_actors else None
            with fenced(catalog, lease):
                report = run_index(
                    catalog, embedder, source, opts, progress=progress, stage=stage, on_progress=on_progress
                )
        self._version_watch.forget()  # this process committed: its next search reads the new version
        if ray_actors:
            from pixseek.indexing.ray_runner import cluster_info

            report.ray = cluster_info(ray_actors) | {
                "stage_seconds": report.stage_seconds,
                "rows_written_by_workers": report.worker_rows,
            }
        if rebuild_ann:
            remove_saved_ann(self.db)
            if is_object_store(self.db):
                remove_saved_ann(ann_copy_folder(self.db, self.settings))  # this machine's copy too
            self._matrix().forget_ann()
        uses_ann = catalog.count() >= min(self.settings.ann_threshold, self.settings.compressed_threshold)
        if uses_ann and (report.changed or rebuild_ann):
            # load it now, or build it (IVF-Flat or compressed) past the delta bound: the first search is fast
            self._matrix().ann(self.db, writer=True)
        return report

    def _ray_stage(self, actors: int, lease: Lease | None) -> EmbedStage:
        model_ref = None if self._injected else self._model_ref(self.embedder)
        return ray_stage_for(
            self.db, lease, actors, self.embedder, model_ref=model_ref, settings=self.settings
        )

    # -- reading ---------------------------------------------------------------------------------
    def _read_catalog(self) -> Catalog:
        if self._open_error is not None:
            raise self._open_error
        if self._catalog is None:
            self._catalog = Catalog.open(self.db)  # created by another process since, or a clear error
        return self._catalog

    def refresh(self) -> bool:
        """Reload the in-memory matrix if the catalog version changed (one cheap version check).

        Thread-safe: web request threads share one Index, and only one of them reloads.
        """
        with self._refresh_lock:
            return self._refresh()

    def _refresh(self) -> bool:
        catalog = self._read_catalog()
        loaded = self._loaded
        if loaded is not None and loaded.ann_delta is None and self._version_watch.unchanged():
            return False  # one stat said no commit can have happened since the last check
        self._version_watch.checking()
        if loaded is not None and loaded.version == catalog.version():
            if loaded.ann_delta is not None and saved_for(self.db, loaded.version):
                loaded.forget_ann()  # a rebuild for this very version landed: the next search loads it
            return False
        self._loaded = load_matrix(catalog, self.db, self.settings)
        return True

    def _matrix(self) -> SearchMatrix:
        """The current version's matrix; public methods call this once, so once per call is checked."""
        self.refresh()
        assert self._loaded is not None
        return self._loaded

    def info(self) -> IndexInfo:
        catalog = self._read_catalog()
        meta = catalog.meta
        adapter = self.adapter()
        return IndexInfo(
            catalog.count(), meta.model, meta.dim, catalog.bytes_on_disk(), meta.last_indexed,
            adapter.info() if adapter is not None else None,
        )  # fmt: skip

    def adapter(self) -> QueryAdapter | None:
        """The query adapter `pixseek adapt` trained for this model, if any (see search.adapter)."""
        return self._adapter.get(self._read_catalog())

    def adapt(
        self, *, remove: bool = False, method: str = DEFAULT_ADAPTER, lock_timeout: float = 0.0
    ) -> AdaptReport | None:
        """Train an adapter (`method`: class-posterior, class-direction or query-residual) on the folder
        labels and store it in the catalog (None with `remove`, which drops it). Searches use it from then
        on unless a query says `use_adapter=False`."""
        if method not in ADAPTER_METHODS:
            raise QueryError(f"unknown adapter method {method!r}; choose one of {', '.join(ADAPTER_METHODS)}")
        with write_lock_for(self.db, lock_timeout) as lease, fenced(self._read_catalog(), lease) as catalog:
            if remove:
                catalog.set_adapter(None)
                report = None
            else:
                m = self._matrix()
                rows = training_rows(m.labels)
                labels = [str(m.labels[int(i)]) for i in rows]
                report = train_and_store(catalog, m.row_vectors(rows), labels, method=method, lease=lease)
        self._adapter.forget()
        return report

    def readiness(self) -> Readiness:
        """What a load balancer needs: the version being served and whether its ANN index is loaded."""
        m = self._matrix()
        used = m.compressed or self._ann_folder(m, None) is not None
        ann = "ready" if m.ann_loaded else ("pending" if used else "unused")
        delta = m.ann_delta
        ann_delta = delta.match.changes if delta is not None else 0
        warmup = self._warmup
        cached = round(warmup.fraction, 3) if warmup is not None else None
        return Readiness(m.version, len(m), self._read_catalog().meta.model, ann, ann_delta, cached)

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
        m = self._matrix()
        if root is None:
            every = m.vectors if m.vectors is not None else m.row_vectors(np.arange(len(m)))
            return IndexArrays(list(m.ids), list(m.paths), list(m.labels), every)
        wanted = str(root).rstrip("/") if is_object_store(root) else str(Path(root).resolve())
        rows = [i for i, r in enumerate(m.roots) if r == wanted]
        vectors = m.row_vectors(np.array(rows, dtype=np.int64))
        picked = ([m.ids[i] for i in rows], [m.paths[i] for i in rows], [m.labels[i] for i in rows])
        return IndexArrays(*picked, vectors)

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
        return self._query(self._matrix(), _as_query(query, terms))

    def _query(self, m: SearchMatrix, query: Query) -> np.ndarray:
        pos = self._vectors(m, query.images, query.texts, query.likes) + list(query.vectors)
        neg = self._vectors(m, query.minus_images, query.minus_texts, query.minus_likes)
        return combine_terms(pos, neg)

    def _vectors(
        self, m: SearchMatrix, images: Sequence[Term], texts: Sequence[Term], likes: Sequence[Term]
    ) -> list[tuple[np.ndarray, float]]:
        out: list[tuple[np.ndarray, float]] = []
        if images:
            vecs = self.embedder.embed_images([v for v, _ in images])
            out += [(vec, w) for vec, (_, w) in zip(vecs, images, strict=True)]
        if texts:
            if not all(isinstance(v, str) for v, _ in texts):
                raise QueryError("text terms must be strings")
            if not all(v.strip() for v, _ in texts):
                raise QueryError("a text query is empty: give some words to search for")
            vecs = self.embedder.embed_texts([v for v, _ in texts])
            out += [(vec, w) for vec, (_, w) in zip(vecs, texts, strict=True)]
        out += [(m.vector(m.row(value)), w) for value, w in likes]
        return out

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
        query = _as_query(query, terms)
        self._check_k(k)
        m = self._matrix()
        exclude = [m.ids[m.row(v)] for v, _ in query.likes] + list(query.exclude_ids)
        adapter = self.adapter() if query.use_adapter else None
        if query.has_marks:
            vector = self._query(m, query) if query.has_terms else None
            if vector is not None and adapter is not None:
                vector = adapter.apply(vector)
            return feedback_search(
                m, vector, list(query.positive), list(query.negative), k=k, filters=filters,
                exclude_ids=exclude, include_marked=query.include_marked, method=query.feedback,
                ann_folder=self._ann_folder(m, ann),
                represent=adapter.both_sides if adapter is not None and adapter.reranks else None,
            )  # fmt: skip
        vector = self._query(m, query)
        folder = self._ann_folder(m, ann)
        if adapter is not None:
            return adapted_search(
                m, adapter, vector, k=k, filters=filters, exclude_ids=exclude, ann_folder=folder
            )
        return m.search(vector, k=k, filters=filters, exclude_ids=exclude, ann_folder=folder)[0]

    def search_feedback(
        self,
        query: np.ndarray | None,
        *,
        positive: Sequence[str] = (),
        negative: Sequence[str] = (),
        k: int = 5,
        filters: SearchFilter | None = None,
        exclude_ids: Sequence[str] = (),
        include_marked: bool = False,
        feedback: str = DEFAULT_FEEDBACK,
        ann: bool | None = None,
    ) -> list[SearchHit]:
        """Top-k for a query vector (or none) and the user's relevant / irrelevant marks (see `search`)."""
        self._check_k(k)
        m = self._matrix()
        return feedback_search(
            m, query, list(positive), list(negative), k=k, filters=filters, exclude_ids=exclude_ids,
            include_marked=include_marked, method=feedback, ann_folder=self._ann_folder(m, ann),
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
        """Batched top-k. ANN is used from settings.ann_threshold rows (or when ann=True) unless a
        filter is given: filtered searches are exact over the rows the filter allows."""
        self._check_k(k)
        m = self._matrix()
        return m.search(
            vectors, k=k, filters=filters, exclude_ids=exclude_ids, ann_folder=self._ann_folder(m, ann)
        )

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
        if not -1.0 <= threshold <= 1.0:
            raise QueryError(f"threshold must be from -1 to 1, got {threshold!r}")
        if isinstance(neighbours, bool) or not isinstance(neighbours, Integral) or not 1 <= neighbours <= 100:
            raise QueryError(f"neighbours must be an integer from 1 to 100, got {neighbours!r}")
        m = self._matrix()
        folder = self._ann_folder(m, None)
        index: VectorIndex = m.ann(folder) if folder is not None or m.compressed else m.exact
        order = None  # past RAM, rows ask in the vector file's order, so the refine reads it in long spans
        if isinstance(index, CompressedIndex | DeltaIndex):
            index = with_refine(index, SELF_JOIN_REFINE)
        if isinstance(index, CompressedIndex):
            order = index.scan_order()
        elif isinstance(index, DeltaIndex) and isinstance(index.base, CompressedIndex):
            order = index.current_order(index.base.scan_order())
        hashes = self._read_catalog().column(m.version, "content_hash").to_numpy(zero_copy_only=False)
        adapter = self.adapter() if use_adapter else None
        return find_duplicates(
            m,
            hashes,
            index,
            original_reader(m),
            threshold=threshold,
            neighbours=neighbours,
            max_pixels=self.settings.max_image_pixels,
            query_map=adapter.apply if adapter is not None else None,
            order=order,
            progress=progress,
        )

    def _check_k(self, k: int) -> None:
        if isinstance(k, bool) or not isinstance(k, Integral) or not 1 <= k <= self.settings.max_k:
            raise QueryError(f"k must be an integer from 1 to {self.settings.max_k}, got {k!r}")

    def _ann_folder(self, m: SearchMatrix, ann: bool | None) -> Location | None:
        """Where the ANN index lives (beside the catalog: its folder or its prefix) when this search
        should use it, else None (exact)."""
        use = len(m) >= self.settings.ann_threshold if ann is None else ann
        return self.db if use else None

    # -- lifecycle -------------------------------------------------------------------------------
    def close(self) -> None:
        self._loaded = None
        self._catalog = None

    def __enter__(self) -> Index:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _as_query(query: Query | None, terms: dict[str, Any]) -> Query:
    """A Query, given one or as keywords (not both)."""
    if query is not None and terms:
        raise QueryError(f"give a Query or keyword terms, not both (got {', '.join(sorted(terms))})")
    if query is not None:
        return query
    try:
        return Query.of(**terms)
    except TypeError as exc:  # an unknown keyword
        raise QueryError(str(exc).replace("Query.of()", "search")) from None
