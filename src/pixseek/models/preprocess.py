"""Pure PIL/numpy preprocessing from the manifest; for CLIP, pixel-identical to CLIPImageProcessor (PIL).

The steps and their rounding follow transformers' PIL backend exactly: shortest side to `size` with
new_long = int(size * long / short), PIL resize on uint8, center crop with top = (h - size) // 2 (zero
padding when the image is smaller), rescale in float64 then cast to float32, normalise in float32.

One exception, for memory: an image whose longer side would come out past MAX_ASPECT crops' widths (a
1 x 20,000 strip would become 224 x 4,480,000, 10 GB) has only the part the crop keeps resized; its pixels
can then differ from transformers' by up to 2 grey levels.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from pixseek.errors import ModelFileError
from pixseek.models.spec import ImageTower

_RESAMPLE = {
    "bicubic": Image.Resampling.BICUBIC,
    "bilinear": Image.Resampling.BILINEAR,
    "nearest": Image.Resampling.NEAREST,
}
_RESCALE = 1 / 255
# Past this ratio of the resized long side to the crop, only the kept centre is resized. Up to it the whole
# resize, pixel-identical to transformers, costs at most 224 x 14,336 x 3 bytes (9.6 MB) an image.
MAX_ASPECT = 64


class Preprocessor:
    """RGB PIL image -> float32 (3, size, size) for the image tower. Picklable (holds only the manifest)."""

    def __init__(self, tower: ImageTower) -> None:
        if tower.resize == "shortest" and tower.crop == "none":
            raise ModelFileError(
                f"{tower.file}: resize 'shortest' needs crop 'center' to give a square input"
            )
        self.tower = tower
        self._mean = np.asarray(tower.mean, dtype=np.float32)
        self._std = np.asarray(tower.std, dtype=np.float32)

    @property
    def size(self) -> int:
        return self.tower.size

    def draft_size(self) -> tuple[int, int]:
        """The smallest decode size that still gives this preprocessing full detail."""
        return (self.tower.size, self.tower.size)

    def __call__(self, image: Image.Image) -> np.ndarray:
        if image.mode != "RGB":
            image = image.convert("RGB")
        target, resample = self._target_size(image.size), _RESAMPLE[self.tower.interpolation]
        if self.tower.crop == "center" and max(target) > MAX_ASPECT * self.tower.size:
            resized = _resized_centre(image, target, self.tower.size, resample)
        else:
            resized = image.resize(target, resample=resample)
        pixels = np.asarray(resized)  # (H, W, 3) uint8
        if self.tower.crop == "center":
            pixels = center_crop(pixels, self.tower.size)
        scaled = (pixels.astype(np.float64) * _RESCALE).astype(np.float32)
        normalised = (scaled - self._mean) / self._std
        return np.ascontiguousarray(normalised.transpose(2, 0, 1), dtype=np.float32)

    def _target_size(self, size: tuple[int, int]) -> tuple[int, int]:
        """(width, height) after resizing."""
        target = self.tower.size
        if self.tower.resize == "squash":
            return (target, target)
        return shortest_side_size(size, target)

    def __getstate__(self) -> ImageTower:
        return self.tower

    def __setstate__(self, tower: ImageTower) -> None:
        self.__init__(tower)  # type: ignore[misc]


def _resized_centre(
    image: Image.Image, target: tuple[int, int], crop: int, resample: Image.Resampling
) -> Image.Image:
    """The `crop` x `crop` centre of `image` resized to `target`, without making the rest: the two passes
    PIL's whole resize makes (width, then height), each over only the box that maps onto the crop (the
    box center_crop keeps). One pass with both boxes rounds in the other order, up to 17 grey levels off
    on noise; these two stay within 2 (PIL takes the box's coordinates as floats)."""
    (width, height), (new_w, new_h) = image.size, target
    left, top = (new_w - crop) // 2, (new_h - crop) // 2
    sx, sy = width / new_w, height / new_h
    columns = image.resize((crop, height), resample=resample, box=(left * sx, 0, (left + crop) * sx, height))
    return columns.resize((crop, crop), resample=resample, box=(0, top * sy, crop, (top + crop) * sy))


def shortest_side_size(size: tuple[int, int], target: int) -> tuple[int, int]:
    """(width, height) with the shorter side == target; the longer one truncated like transformers."""
    width, height = size
    short, long = (width, height) if width <= height else (height, width)
    new_long = int(target * long / short)
    return (target, new_long) if width <= height else (new_long, target)


def center_crop(pixels: np.ndarray, size: int) -> np.ndarray:
    """Crop (H, W, C) to (size, size, C) around the centre, zero-padding sides that are too short."""
    height, width = pixels.shape[:2]
    top, left = (height - size) // 2, (width - size) // 2
    if top >= 0 and left >= 0:
        return pixels[top : top + size, left : left + size]
    new_h, new_w = max(size, height), max(size, width)
    pad_top, pad_left = -(-(new_h - height) // 2), -(-(new_w - width) // 2)  # ceil, as transformers
    canvas = np.zeros((new_h, new_w, *pixels.shape[2:]), dtype=pixels.dtype)
    canvas[pad_top : pad_top + height, pad_left : pad_left + width] = pixels
    top, left = top + pad_top, left + pad_left
    return canvas[max(0, top) : min(new_h, top + size), max(0, left) : min(new_w, left + size)]
