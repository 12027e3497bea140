"""Indexing: scan a folder, work out what changed, embed what is new, commit in crash-safe batches."""

from pixseek.indexing.pipeline import RunOptions, run_index
from pixseek.indexing.report import IndexReport
from pixseek.indexing.scan import IMAGE_EXTENSIONS, FileEntry, scan

__all__ = ["IMAGE_EXTENSIONS", "FileEntry", "IndexReport", "RunOptions", "run_index", "scan"]
