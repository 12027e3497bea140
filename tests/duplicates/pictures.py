"""Drawn pictures and the edits a near-duplicate finder must see through, made with PIL alone."""

from __future__ import annotations

import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageEnhance


def drawing(seed: int, size: tuple[int, int] = (240, 180)) -> Image.Image:
    """Clip-art-like: coloured shapes on white, different for each seed."""
    rng = random.Random(seed)
    im = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(im)
    w, h = size
    for _ in range(6):
        x0, y0 = rng.randrange(0, w - 40), rng.randrange(0, h - 40)
        box = (x0, y0, x0 + rng.randrange(30, w // 2), y0 + rng.randrange(30, h // 2))
        colour = tuple(rng.randrange(0, 200) for _ in range(3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=colour, outline="black", width=3)
    return im


def letter_l() -> Image.Image:
    """A narrow stamp: one black bar, full height."""
    im = Image.new("RGB", (30, 120), "white")
    ImageDraw.Draw(im).rectangle((8, 4, 21, 115), fill="black")
    return im


def letter_i() -> Image.Image:
    """The same bar cut short, with a dot above it: its centre is l's centre."""
    im = Image.new("RGB", (30, 120), "white")
    draw = ImageDraw.Draw(im)
    draw.rectangle((8, 34, 21, 115), fill="black")
    draw.ellipse((8, 4, 21, 17), fill="black")
    return im


def crop5(im: Image.Image) -> Image.Image:
    w, h = im.size
    return im.crop((round(w * 0.05), round(h * 0.05), round(w * 0.95), round(h * 0.95)))


def half(im: Image.Image) -> Image.Image:
    return im.resize((im.width // 2, im.height // 2), Image.Resampling.LANCZOS)


def brighter(im: Image.Image) -> Image.Image:
    return ImageEnhance.Brightness(im).enhance(1.25)


def more_contrast(im: Image.Image) -> Image.Image:
    """Contrast x1.3, away from the picture's mean grey: every colour also gains saturation."""
    return ImageEnhance.Contrast(im).enhance(1.3)


def more_saturated(im: Image.Image) -> Image.Image:
    return ImageEnhance.Color(im).enhance(1.3)


def save_jpeg(im: Image.Image, path: Path, quality: int = 40) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path, quality=quality)
    return path


def save_png(im: Image.Image, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path)
    return path


def spinning_top(letter: str, size: tuple[int, int] = (240, 180)) -> Image.Image:
    """A dreidel-like drawing with one letter on its face ("L" or "T"): the same picture but for the
    letter, which covers under 3% of it."""
    im = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(im)
    draw.polygon([(20, 60), (120, 20), (220, 60), (120, 170)], fill=(0, 220, 230), outline="black", width=3)
    draw.line((120, 20, 150, 2), fill=(0, 120, 120), width=8)
    x, y = 100, 70
    if letter == "L":
        draw.line((x, y, x, y + 36), fill="black", width=7)
        draw.line((x, y + 36, x + 26, y + 36), fill="black", width=7)
    else:
        draw.line((x, y, x + 26, y), fill="black", width=7)
        draw.line((x + 13, y, x + 13, y + 36), fill="black", width=7)
    return im


def flag(colour: tuple[int, int, int]) -> Image.Image:
    """A flag on a pole: a red one and a green one of equal grey level are one picture in grey."""
    im = Image.new("RGB", (160, 200), "white")
    draw = ImageDraw.Draw(im)
    draw.rectangle((20, 10, 28, 195), fill=(90, 60, 30))
    draw.rectangle((28, 15, 140, 90), fill=colour, outline="black", width=2)
    return im


def poster(size: tuple[int, int] = (240, 180)) -> Image.Image:
    """Four strong colours to the edges and a white disc: colour edits move every cell's chromaticity, as
    in a photo, where a drawing on white keeps most cells white."""
    w, h = size
    im = Image.new("RGB", size, (200, 30, 30))
    draw = ImageDraw.Draw(im)
    draw.rectangle((w // 2, 0, w, h // 2), fill=(30, 160, 40))
    draw.rectangle((0, h // 2, w // 2, h), fill=(40, 60, 200))
    draw.rectangle((w // 2, h // 2, w, h), fill=(230, 200, 20))
    draw.ellipse((w // 4, h // 4, 3 * w // 4, 3 * h // 4), fill=(250, 250, 250), outline="black", width=4)
    return im


def coin(seed: int, size: int = 100) -> Image.Image:
    """A grey coin on white with a design of lighter and darker marks, different for each seed: like
    Tux Paint's yen coins, two coins of one size line up, and their rim outweighs the design."""
    rng = random.Random(seed)
    im = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(im)
    draw.ellipse((4, 4, size - 5, size - 5), fill=(150, 150, 150), outline=(60, 60, 60), width=4)
    for _ in range(14):
        x0, y0 = rng.randrange(22, size - 40), rng.randrange(22, size - 40)
        box = (x0, y0, x0 + rng.randrange(6, 18), y0 + rng.randrange(6, 18))
        shade = rng.choice([(115, 115, 115), (185, 185, 185)])
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=shade)
    return im
