"""models.decode_budget and imageio.decoded_pixels: threads that decode share a pixel budget, counted from
headers alone."""

from __future__ import annotations

import io
import threading
import time

from PIL import Image

from pixseek.models.decode_budget import PixelBudget
from pixseek.models.imageio import decoded_pixels


def test_decodes_past_the_budget_wait_and_a_larger_picture_runs_alone() -> None:
    budget = PixelBudget(100)
    lock = threading.Lock()
    inside: list[int] = [0]
    seen: list[int] = []

    def decode(pixels: int) -> None:
        with budget.held(pixels):
            with lock:
                inside[0] += pixels
                seen.append(inside[0])
            time.sleep(0.01)
            with lock:
                inside[0] -= pixels

    queue = [60] * 8 + [500] + [30] * 8

    def worker() -> None:
        while True:
            with lock:
                if not queue:
                    return
                pixels = queue.pop(0)
            decode(pixels)

    threads = [
        threading.Thread(target=worker, daemon=True) for _ in range(4)
    ]  # daemon: a hang fails, not hangs
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert not any(t.is_alive() for t in threads), "a decode waited forever"
    assert 500 in seen  # the large one ran, rather than waiting forever
    assert all(total <= 100 or total == 500 for total in seen), seen  # and alone; the rest within 100
    assert inside == [0]


def _encoded(size: tuple[int, int], fmt: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, "white").save(out, format=fmt)
    return out.getvalue()


def test_decoded_pixels_come_from_the_header_and_a_jpeg_draft() -> None:
    assert decoded_pixels(_encoded((300, 200), "PNG")) == 60_000
    assert decoded_pixels(_encoded((300, 200), "PNG"), draft_size=(128, 128)) == 60_000  # PNG: no draft
    # PIL's JPEG draft: the largest of 1/8, 1/4, 1/2 that keeps both sides at least the size asked for;
    # 1600 x 1200 asked 128 x 128 decodes at 1/8: 200 x 150
    assert decoded_pixels(_encoded((1600, 1200), "JPEG"), draft_size=(128, 128)) == 30_000
    assert decoded_pixels(_encoded((1600, 1200), "JPEG"), draft_size=(500, 500)) == 800 * 600  # at 1/2
    assert decoded_pixels(b"not an image") == 0
    assert decoded_pixels(b"") == 0
