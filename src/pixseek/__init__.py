"""pixseek: content-based image retrieval with CLIP, on ONNX Runtime and LanceDB."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Index", "Query", "SearchFilter", "__version__"]

if TYPE_CHECKING:
    from pixseek.search.filters import SearchFilter
    from pixseek.search.query import Query
    from pixseek.services import Index


def __getattr__(name: str) -> Any:
    """`pixseek.Index`, `pixseek.Query` and `pixseek.SearchFilter` without paying for LanceDB and FAISS on
    every import (errors are in `pixseek.errors`)."""
    if name == "Index":
        from pixseek.services import Index

        return Index
    if name == "Query":
        from pixseek.search.query import Query

        return Query
    if name == "SearchFilter":
        from pixseek.search.filters import SearchFilter

        return SearchFilter
    raise AttributeError(f"module 'pixseek' has no attribute {name!r}")
