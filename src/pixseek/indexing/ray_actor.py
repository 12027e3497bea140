"""The Ray actor of distributed embedding: reads, decodes and embeds batches of files (and appends their
rows into an object-store catalog). Kept apart from `ray_runner`, which the driver imports, so an actor
process imports neither LanceDB nor the local pipeline: about 2 s less start-up per actor.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pixseek.catalog.schema import ImageRecord
from pixseek.errors import ImageReadError
from pixseek.indexing.decode import DECODE_THREADS, load_one
from pixseek.indexing.plan import DEFERRED_HASH
from pixseek.indexing.sources import ObjectFile, ObjectStoreSource
from pixseek.types import Embedder

if TYPE_CHECKING:
    from pixseek.catalog.row_writer import RowWriter

EmbedderFactory = Callable[[], Embedder]
CALLS_PER_ACTOR = 2  # concurrent calls per actor: the next batch decodes while this one is embedded


@dataclass(frozen=True)
class Provide:
    """A picklable factory that hands out an embedder that is itself picklable (e.g. a test double)."""

    embedder: Embedder

    def __call__(self) -> Embedder:
        return self.embedder


class EmbedBatch:
    """A Ray actor: loads the model once, then reads, decodes and embeds one batch of files per call; with
    a RowWriter it also appends the batch's new rows to the catalog itself (one atomic append per call).

    Two calls run at once (CALLS_PER_ACTOR): the decode threads and one model lock are shared, so the
    next call's files decode while this call's last chunk is in the model, as in the local pipeline's
    continuous prefetch. One call at a time left the model idle while each call's first chunk decoded.
    """

    def __init__(
        self,
        factory: EmbedderFactory,
        storage_options: Mapping[str, str],
        writer: RowWriter | None,
        chunk: int,
    ) -> None:
        self._embedder = factory()
        self._loader = self._embedder.image_loader()
        self._options = dict(storage_options)
        self._sources: dict[str, ObjectStoreSource] = {}
        self._writer = writer
        self._chunk = chunk  # images per model call
        self._decode = ThreadPoolExecutor(max_workers=DECODE_THREADS, thread_name_prefix="pixseek-decode")
        self._model = threading.Lock()  # one model call at a time: it already uses every core
        self._sources_lock = threading.Lock()

    def _item(self, uri: str, path: str) -> Path | ObjectFile:
        """A local path as is; an object (uri = its source prefix), one source per prefix per actor."""
        if not uri:
            return Path(path)
        with self._sources_lock:
            if uri not in self._sources:
                self._sources[uri] = ObjectStoreSource(uri, self._options)
            return ObjectFile(self._sources[uri], path)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        """Decode in the background thread while the model runs on the chunk before (PIL and ONNX Runtime
        both release the GIL), as the local pipeline overlaps them."""
        n = len(batch["path"])
        vectors = np.zeros((n, self._embedder.dim), np.float32)
        sizes = np.zeros((n, 2), np.int64)
        errors, hashes = [""] * n, [""] * n
        good: list[int] = []
        items = [
            self._item(str(uri), str(path)) for uri, path in zip(batch["uri"], batch["path"], strict=True)
        ]
        decoded = [self._decode.submit(load_one, self._loader, item) for item in items]  # read once, hashed
        for start in range(0, n, self._chunk):
            rows, pixels = [], []
            for i in range(start, min(start + self._chunk, n)):
                img = decoded[i].result()
                decoded[i] = None  # type: ignore[call-overload]  # let its pixels go once embedded
                if isinstance(img, ImageReadError):
                    errors[i] = img.reason
                    continue
                rows.append(i)
                pixels.append(img.pixels)
                sizes[i] = (img.width, img.height)
                hashes[i] = img.content_hash or ""
            if rows:
                with self._model:
                    vectors[rows] = self._embedder.embed_pixels(np.stack(pixels))
            good.extend(rows)
        written = self._write(batch["write"], good, vectors, sizes, hashes)
        return {
            "vector": vectors,
            "size": sizes,
            "error": np.asarray(errors, dtype=object),
            "hash": np.asarray(hashes, dtype=object),
            "written": written,
        }

    def _write(
        self,
        templates: np.ndarray,
        good: list[int],
        vectors: np.ndarray,
        sizes: np.ndarray,
        hashes: list[str],
    ) -> np.ndarray:
        """Append the new rows of this batch; which items' rows were written."""
        written = np.zeros(len(templates), bool)
        if self._writer is None:
            return written
        records, rows = [], []
        for i in good:
            for fields in json.loads(str(templates[i]) or "[]"):
                template = ImageRecord(**fields)
                digest = template.content_hash if template.content_hash != DEFERRED_HASH else hashes[i]
                width, height = (int(v) for v in sizes[i])
                records.append(replace(template, width=width, height=height, content_hash=digest))
                rows.append(i)
                written[i] = True
        self._writer.append(records, vectors[rows])
        return written
