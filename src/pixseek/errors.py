"""Typed errors: library code raises these; only the CLI and web layers turn them into messages."""

from __future__ import annotations

from pathlib import Path


class PixseekError(Exception):
    """Base class for every error pixseek raises on purpose."""


class ImageReadError(PixseekError):
    """One file could not be read as an image; the caller decides whether to skip and report it."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class ImageTooLargeError(ImageReadError):
    """An image exceeds the configured pixel limit (a decompression-bomb guard)."""


class ModelError(PixseekError):
    """Base for model problems."""


class ModelNotFoundError(ModelError):
    """A model is neither cached, local, nor downloadable right now."""


class ModelFileError(ModelError):
    """A model folder has a missing, corrupt or mismatched file; the message names the file."""


class TextNotSupportedError(ModelError):
    """The model has no text tower (e.g. the bundled EfficientNet-Lite)."""


class CatalogError(PixseekError):
    """Base for catalog problems."""


class ModelMismatchError(CatalogError):
    """An index was built with a different model or preprocessing than the one asked for."""


class SchemaVersionError(CatalogError):
    """A catalog was written by an incompatible pixseek version."""


class StorageError(CatalogError):
    """Storage refused a read or write (the catalog's, or an eval report's): disk full, read-only, permission
    denied."""


class IndexBusyError(CatalogError):
    """Another process holds the index's write lock."""


class QueryError(PixseekError):
    """A search request is malformed (no terms, unknown id, bad k, ...)."""


class NotInIndexError(QueryError):
    """An id or path that the index does not hold (HTTP 404)."""


class AmbiguousPathError(QueryError):
    """A relative path that names files under several indexed roots; `matches` lists their full paths."""

    def __init__(self, path: str, matches: list[str]) -> None:
        self.matches = matches
        super().__init__(
            f"{path!r} matches {len(matches)} indexed images under different roots; "
            f"give the full path or the id: {', '.join(matches)}"
        )


class EvaluationError(PixseekError):
    """Data unfit for evaluation (one class, singleton classes, no labels, ...)."""


class FolderNotFoundError(PixseekError):
    """A folder to index does not exist or is not a folder."""


class SourceChangedError(PixseekError):
    """An indexed file or object no longer matches its row (size or modification time)."""


class SettingsError(PixseekError):
    """A setting (a PIXSEEK_* variable, or the option that sets it) out of its range or of the wrong type."""


class ClusterError(PixseekError):
    """The Ray cluster a run asked for cannot be reached."""
