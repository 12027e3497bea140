"""The catalog: one LanceDB table of image rows plus index metadata; the source of truth."""

from pixseek.catalog.lock import write_lock
from pixseek.catalog.schema import SCHEMA_VERSION, ImageRecord, IndexMeta
from pixseek.catalog.store import Catalog, CatalogSnapshot

__all__ = ["SCHEMA_VERSION", "Catalog", "CatalogSnapshot", "ImageRecord", "IndexMeta", "write_lock"]
