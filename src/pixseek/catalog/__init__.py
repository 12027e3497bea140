"""The catalog: one LanceDB table of image rows plus index metadata; the source of truth.

Names load on first use (PEP 562), so code that needs only the row types (a Ray actor, a decode
worker) does not pay for importing LanceDB, about 2 s on a small machine.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pixseek.catalog.adapter_table import AdapterRecord
    from pixseek.catalog.lock import write_lock
    from pixseek.catalog.schema import SCHEMA_VERSION, CatalogSnapshot, ImageRecord, IndexMeta
    from pixseek.catalog.store import Catalog

_HOME = {
    "AdapterRecord": "pixseek.catalog.adapter_table",
    "write_lock": "pixseek.catalog.lock",
    "SCHEMA_VERSION": "pixseek.catalog.schema",
    "ImageRecord": "pixseek.catalog.schema",
    "IndexMeta": "pixseek.catalog.schema",
    "Catalog": "pixseek.catalog.store",
    "CatalogSnapshot": "pixseek.catalog.schema",
}
__all__ = [
    "SCHEMA_VERSION",
    "AdapterRecord",
    "Catalog",
    "CatalogSnapshot",
    "ImageRecord",
    "IndexMeta",
    "write_lock",
]


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_HOME[name]), name)
