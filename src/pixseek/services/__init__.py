"""The facade and Python API, `pixseek.Index`: wires settings -> embedder, catalog and vector index."""

from pixseek.catalog import ImageRecord
from pixseek.indexing import IndexReport
from pixseek.indexing.report import RunProgress
from pixseek.indexing.sources import ObjectStoreSource
from pixseek.search import SearchFilter
from pixseek.search.query import Query
from pixseek.services.adapting import AdaptReport
from pixseek.services.duplicates import DuplicateGroup, DuplicateReport
from pixseek.services.index import Index
from pixseek.services.results import IndexArrays, IndexInfo, Readiness
from pixseek.types import SearchHit

__all__ = [
    "AdaptReport", "DuplicateGroup", "DuplicateReport", "ImageRecord", "Index", "IndexArrays", "IndexInfo",
    "IndexReport", "ObjectStoreSource", "Query", "Readiness", "RunProgress", "SearchFilter", "SearchHit",
]  # fmt: skip
