"""Thumbnails of indexed images: made once, kept in a bounded LRU keyed by the file's identity."""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from collections.abc import Callable

from pixseek.models.imageio import ImageSource, read_image

THUMBNAIL_SIDE = 320


class ThumbnailCache:
    """At most `capacity` JPEG thumbnails in memory; a changed file (size or mtime) gets a fresh one."""

    def __init__(self, *, max_pixels: int, capacity: int = 2048) -> None:
        self._max_pixels = max_pixels
        self._capacity = capacity
        self._items: OrderedDict[tuple[str, int, int], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, location: str, *, size: int, mtime_ns: int, read: Callable[[], ImageSource]) -> bytes:
        """The thumbnail of the file at `location` (path or URI); `read` gives its path or bytes on a miss."""
        key = (location, size, mtime_ns)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        data = _make(read(), self._max_pixels)
        with self._lock:
            self._items[key] = data
            while len(self._items) > self._capacity:
                self._items.popitem(last=False)
        return data


def _make(source: ImageSource, max_pixels: int) -> bytes:
    side = THUMBNAIL_SIDE
    image = read_image(source, max_pixels=max_pixels, draft_size=(side, side)).image
    image.thumbnail((side, side))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=85)
    return out.getvalue()
