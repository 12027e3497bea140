"""Vector search: exact (numpy) and ANN (FAISS) behind one protocol, query algebra and filters."""

from pixseek.search.ann import IvfIndex
from pixseek.search.exact import ExactIndex
from pixseek.search.filters import SearchFilter, matching_rows
from pixseek.search.matrix import SearchMatrix
from pixseek.search.protocol import VectorIndex
from pixseek.search.query import as_terms, combine_terms

__all__ = [
    "ExactIndex",
    "IvfIndex",
    "SearchFilter",
    "SearchMatrix",
    "VectorIndex",
    "as_terms",
    "combine_terms",
    "matching_rows",
]
