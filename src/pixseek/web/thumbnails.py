"""Thumbnails of indexed images: made once, kept in a bounded LRU keyed by the file's identity."""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from pathlib import Path

from pixseek.models.imageio import read_image

THUMBNAIL_SIDE = 320


class ThumbnailCache:
    """At most `capacity` JPEG thumbnails in memory; a changed file (size or mtime) gets a fresh one."""

    def __init__(self, *, max_pixels: int, capacity: int = 2048) -> None:
        self._max_pixels = max_pixels
        self._capacity = capacity
        self._items: OrderedDict[tuple[str, int, int], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, path: Path, *, size: int, mtime_ns: int) -> bytes:
        key = (str(path), size, mtime_ns)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        data = _make(path, self._max_pixels)
        with self._lock:
            self._items[key] = data
            while len(self._items) > self._capacity:
                self._items.popitem(last=False)
        return data


def _make(path: Path, max_pixels: int) -> bytes:
    side = THUMBNAIL_SIDE
    image = read_image(path, max_pixels=max_pixels, draft_size=(side, side)).image
    image.thumbnail((side, side))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85)
    return out.getvalue()
