"""Preprocessing: transformers' resize rounding, center crop (and its padding), rescale and normalise."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from PIL import Image

from pixseek.errors import ModelFileError
from pixseek.models.imageio import open_image
from pixseek.models.known import KNOWN_MODELS
from pixseek.models.preprocess import Preprocessor, center_crop, shortest_side_size
from pixseek.models.spec import CLIP_MEAN, CLIP_STD, IMAGENET_MEAN, IMAGENET_STD, ImageTower
from tests.models.conftest import PHOTO, STAMP

CLIP = ImageTower(file="image.onnx")

# Written out from the sources, not imported: OpenAI's CLIP repo (clip/clip.py, `_transform`) and
# torchvision's ImageNet example. Expected values below are derived from these by hand.
OPENAI_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
TORCHVISION_IMAGENET_MEAN = (0.485, 0.456, 0.406)
TORCHVISION_IMAGENET_STD = (0.229, 0.224, 0.225)


def test_clip_normalisation_is_openais_published_one() -> None:
    """A model folder built from the defaults or the registry must normalise as CLIP was trained."""
    assert CLIP_MEAN == OPENAI_CLIP_MEAN and CLIP_STD == OPENAI_CLIP_STD
    assert (CLIP.mean, CLIP.std) == (OPENAI_CLIP_MEAN, OPENAI_CLIP_STD)  # ImageTower's defaults
    spec = KNOWN_MODELS["clip-vit-b32"].spec
    assert spec is not None
    assert (spec.image.mean, spec.image.std) == (OPENAI_CLIP_MEAN, OPENAI_CLIP_STD)


def test_imagenet_normalisation_is_torchvisions_published_one() -> None:
    assert IMAGENET_MEAN == TORCHVISION_IMAGENET_MEAN and IMAGENET_STD == TORCHVISION_IMAGENET_STD


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((640, 427), (335, 224)),  # 224 * 640 / 427 = 335.7 -> 335 (truncated, not rounded)
        ((427, 640), (224, 335)),
        ((300, 300), (224, 224)),
        ((10, 1000), (224, 22400)),
        ((93, 120), (224, 289)),  # 224 * 120 / 93 = 289.03
    ],
)
def test_shortest_side_size_rounds_like_transformers(
    size: tuple[int, int], expected: tuple[int, int]
) -> None:
    assert shortest_side_size(size, 224) == expected


def test_uniform_image_gives_clip_normalised_values() -> None:
    out = Preprocessor(CLIP)(Image.new("RGB", (500, 300), (200, 100, 50)))
    assert out.shape == (3, 224, 224) and out.dtype == np.float32 and out.flags.c_contiguous
    # (value / 255 - mean) / std with OpenAI's mean and std, by hand:
    # R (0.7843137 - 0.48145466) / 0.26862954 = 1.1274228
    # G (0.3921569 - 0.4578275) / 0.26130258 = -0.2513203
    # B (0.1960784 - 0.40821073) / 0.27577711 = -0.7692165
    expected = np.array([1.1274228, -0.2513203, -0.7692165])
    assert np.allclose(out.reshape(3, -1), expected[:, None], atol=1e-6)


def test_center_crop_takes_the_middle_rows() -> None:
    rows = np.repeat((np.arange(300) // 2).astype(np.uint8)[:, None], 224, axis=1)  # value = row // 2
    image = Image.fromarray(np.stack([rows] * 3, axis=-1))  # 224 wide, 300 tall: no resize needed
    out = Preprocessor(CLIP)(image)
    # The crop starts at row (300 - 224) // 2 = 38, value 38 // 2 = 19, and ends at row 38 + 223 = 261,
    # value 130. Normalised (red): (19 / 255 - 0.48145466) / 0.26862954 = -1.5148924,
    # (130 / 255 - 0.48145466) / 0.26862954 = 0.1055329.
    assert out[0, 0, 0] == pytest.approx(-1.5148924, abs=1e-6)
    assert out[0, -1, 0] == pytest.approx(0.1055329, abs=1e-6)
    assert out[0, 1, 0] == out[0, 0, 0]  # rows 38 and 39 both hold 19


def test_center_crop_pads_small_images_with_zeros_like_transformers() -> None:
    pixels = np.arange(1, 7, dtype=np.uint8).reshape(2, 3, 1)  # 2 rows, 3 columns
    out = center_crop(pixels, 4)
    # transformers: top pad = ceil((4 - 2) / 2) = 1, left pad = ceil((4 - 3) / 2) = 1
    expected = np.zeros((4, 4, 1), np.uint8)
    expected[1:3, 1:4] = pixels
    assert np.array_equal(out, expected)


def test_squash_resizes_both_sides_with_the_manifest_mean_and_std() -> None:
    tower = ImageTower(
        file="x.onnx",
        size=64,
        resize="squash",
        crop="none",
        mean=TORCHVISION_IMAGENET_MEAN,
        std=TORCHVISION_IMAGENET_STD,
    )
    image = Image.new("RGB", (300, 100), (255, 255, 255))
    out = Preprocessor(tower)(image)
    assert out.shape == (3, 64, 64)
    # white is 1.0: (1 - 0.485) / 0.229 = 2.2489083, (1 - 0.456) / 0.224 = 17 / 7, (1 - 0.406) / 0.225 = 2.64
    assert np.allclose(out[:, 0, 0], [2.2489083, 17 / 7, 2.64], atol=1e-6)


def test_interpolation_follows_the_manifest() -> None:
    image = open_image(PHOTO, max_pixels=10**9)
    bicubic = Preprocessor(CLIP)(image)
    nearest = Preprocessor(ImageTower(file="x.onnx", interpolation="nearest"))(image)
    assert not np.array_equal(bicubic, nearest)
    assert np.abs(bicubic - nearest).mean() < 0.2  # same picture, different filter


def test_non_rgb_input_is_converted() -> None:
    rgba = Image.open(STAMP)
    assert Preprocessor(CLIP)(rgba).shape == (3, 224, 224)


def test_shortest_without_crop_is_rejected() -> None:
    with pytest.raises(ModelFileError, match="crop"):
        Preprocessor(ImageTower(file="x.onnx", resize="shortest", crop="none"))


def test_preprocessor_pickles_for_worker_processes() -> None:
    pre = Preprocessor(CLIP)
    image = open_image(PHOTO, max_pixels=10**9)
    clone = pickle.loads(pickle.dumps(pre))
    assert np.array_equal(clone(image), pre(image))
    assert clone.draft_size() == (224, 224)


def _reference(image: Image.Image, tower: ImageTower) -> np.ndarray:
    """transformers' steps written out with plain PIL: the whole image resized, then its centre cropped."""
    width, height = image.size
    t = tower.size
    size = (t, int(t * height / width)) if width <= height else (int(t * width / height), t)
    pixels = np.asarray(image.convert("RGB").resize(size, resample=Image.Resampling.BICUBIC))
    top, left = (pixels.shape[0] - t) // 2, (pixels.shape[1] - t) // 2
    crop = pixels[top : top + t, left : left + t].astype(np.float64) / 255
    return ((crop.astype(np.float32) - np.float32(tower.mean)) / np.float32(tower.std)).transpose(2, 0, 1)


def test_an_extreme_strip_resizes_only_the_centre_it_keeps(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 1 x 20,000 strip became a 224 x 4,480,000 image before its crop (10 GB, 29 s); a 100,000 x 2 one
    ran out of memory. Now each resize pass makes at most crop x the source's long side, and a strip still
    gives what resizing it whole would, to within 2 grey levels even on noise."""
    sizes: list[tuple[int, int]] = []
    resize = Image.Image.resize
    monkeypatch.setattr(
        Image.Image, "resize", lambda self, size, *a, **kw: sizes.append(size) or resize(self, size, *a, **kw)
    )
    pre = Preprocessor(CLIP)
    for strip in (Image.new("L", (1, 20_000), 128), Image.new("L", (100_000, 2), 128)):
        assert pre(strip).shape == (3, 224, 224)
    assert max(w * h for w, h in sizes) <= 224 * 20_000  # at most crop x the source's long side: 13 MB
    rng = np.random.default_rng(0)
    for shape in ((5_000, 3), (13, 4_001), (2_000, 10)):  # (height, width): noise, the hardest case
        strip = Image.fromarray(rng.integers(0, 256, (*shape, 3), dtype=np.uint8))
        got, want = pre(strip), _reference(strip, CLIP)
        levels = np.abs((got - want) * np.float32(CLIP.std)[:, None, None]) * 255
        assert levels.max() <= 2.01 and levels.mean() < 0.05, (shape, levels.max(), levels.mean())
    for shape in ((30, 200, 3), (427, 30, 3), (30, 1_900, 3)):  # up to 14,186 px long: within the bound
        moderate = Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8))  # so resized whole: exact
        np.testing.assert_array_equal(pre(moderate), _reference(moderate, CLIP))
