"""Parity with the transformers reference on the committed tiny-clip fixture (needs the [torch] extra).

Tolerances: pixels are compared after the same decode (pixseek's imageio, RGB) and must agree to
1e-6 (both sides do the same float32 arithmetic; the observed difference is 0). Token ids must equal
both transformers' CLIPTokenizer and an independent reading of OpenAI's original BPE algorithm.
Embeddings must reach cosine >= 0.9999 (observed >= 0.999999) against `get_image_features` /
`get_text_features` of the fp16-exact checkpoint in tiny-clip/hf.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pixseek.models.embedder import OnnxEmbedder
from pixseek.models.imageio import open_image
from pixseek.models.known import KNOWN_MODELS
from pixseek.models.preprocess import Preprocessor
from pixseek.models.spec import CLIP_MEAN, CLIP_STD, ImageTower, ModelSpec
from pixseek.models.tokenizer import ClipTokenizer
from tests.models.conftest import PHOTO, STAMP, TINY_CLIP

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

STAMPS = Path("/usr/share/tuxpaint/stamps")
MAX_PIXELS = 200_000_000
COSINE = 0.9999

TEXTS = [
    "",
    "a photo of a cat",
    "A PHOTO of a Cat",
    "a   photo \t of\n a    cat   ",
    "Hello, world!!! ... ?!?! (brackets) [and] {braces} - dashes -- 'quotes' \"double\"",
    "naïve café, Zürich, São Paulo, Ελληνικά, русский, 日本語のテキスト, 한국어",
    "emoji 😀🐈‍⬛👍🏽 and flags 🇫🇷",
    "it's what we've done, they'll see, I'd say, you're right",
    "numbers 1234567890 and 3.14159 and 1,000,000",
    " ".join(f"word{i}" for i in range(120)),  # far beyond 77 tokens
    "supercalifragilisticexpialidocious " * 10,
    "<|startoftext|> literal special tokens <|endoftext|>",
]


def _real_images(tmp_path: Path) -> list[Path]:
    """Real files: stamps of many sizes and aspect ratios, a JPEG photo, greyscale, RGBA, tiny, very wide."""
    files = [PHOTO, STAMP]
    if STAMPS.is_dir():
        stamps = sorted(STAMPS.rglob("*.png"))
        files += stamps[:: max(1, len(stamps) // 25)]
    system_jpeg = Path(np.__file__).parents[1] / "sklearn" / "datasets" / "images" / "china.jpg"
    if system_jpeg.is_file():
        files.append(system_jpeg)
    with Image.open(PHOTO) as photo:
        photo.convert("L").save(tmp_path / "grey.png")
        photo.convert("RGBA").save(tmp_path / "rgba.png")
        photo.resize((100, 70)).save(tmp_path / "tiny.png")  # smaller than 224: the crop pads
        photo.crop((0, 0, 640, 40)).save(tmp_path / "wide.jpg")  # 16:1
        photo.crop((0, 0, 30, 427)).save(tmp_path / "tall.png")
    return files + [tmp_path / n for n in ("grey.png", "rgba.png", "tiny.png", "wide.jpg", "tall.png")]


@pytest.fixture(scope="module")
def spec() -> ModelSpec:
    return ModelSpec.load(TINY_CLIP)


@pytest.fixture(scope="module")
def reference_model() -> transformers.CLIPModel:
    return transformers.CLIPModel.from_pretrained(TINY_CLIP / "hf", dtype=torch.float32).eval()


@pytest.fixture(scope="module")
def embedder() -> OnnxEmbedder:
    return OnnxEmbedder.from_folder(TINY_CLIP, threads=1)


def test_pixels_match_clip_image_processor(spec: ModelSpec, tmp_path: Path) -> None:
    reference = transformers.CLIPImageProcessor()  # the PIL backend when torchvision is absent
    ours = Preprocessor(spec.image)
    files = _real_images(tmp_path)
    assert len(files) >= 10
    for path in files:
        rgb = open_image(path, max_pixels=MAX_PIXELS)
        expected = reference(rgb, return_tensors="np")["pixel_values"][0]
        got = ours(rgb)
        assert got.shape == expected.shape == (3, 224, 224), path
        assert np.abs(got - expected).max() <= 1e-6, path


def test_clip_normalisation_matches_clip_image_processor_defaults() -> None:
    """transformers' CLIPImageProcessor is an independent source for CLIP's mean and std."""
    reference = transformers.CLIPImageProcessor()
    expected = (tuple(reference.image_mean), tuple(reference.image_std))
    assert expected == (CLIP_MEAN, CLIP_STD)
    assert (ImageTower(file="image.onnx").mean, ImageTower(file="image.onnx").std) == expected
    known = KNOWN_MODELS["clip-vit-b32"].spec
    assert known is not None and (known.image.mean, known.image.std) == expected


def test_default_image_tower_pixels_match_clip_image_processor() -> None:
    """A manifest that leaves preprocessing at its defaults gets CLIPImageProcessor's pixels."""
    rgb = open_image(PHOTO, max_pixels=MAX_PIXELS)
    expected = transformers.CLIPImageProcessor()(rgb, return_tensors="np")["pixel_values"][0]
    got = Preprocessor(ImageTower(file="image.onnx"))(rgb)
    assert np.abs(got - expected).max() <= 1e-6


def test_token_ids_match_clip_tokenizer(spec: ModelSpec, tmp_path: Path) -> None:
    from pixseek.models.export.tokenizer_files import BUNDLED_BPE, write_vocab_and_merges

    write_vocab_and_merges(BUNDLED_BPE, tmp_path)  # vocab.json + merges.txt, loaded the file way
    reference = transformers.CLIPTokenizer.from_pretrained(str(tmp_path))
    assert spec.text is not None
    ours = ClipTokenizer.from_file(TINY_CLIP / spec.text.tokenizer, context_length=77)
    ids, mask = ours.encode(TEXTS)
    expected = reference(TEXTS, padding="max_length", truncation=True, max_length=77, return_tensors="np")
    for row, text in enumerate(TEXTS):
        n = int(expected["attention_mask"][row].sum())
        assert mask[row].sum() == n, text
        np.testing.assert_array_equal(ids[row, :n], expected["input_ids"][row, :n], err_msg=text)
    assert ids[-3, 76] == 49407  # a long text keeps its end token


class _OpenAiStyleBpe:
    """An independent reading of CLIP's original tokenizer (OpenAI's simple_tokenizer): lower-case,
    collapse whitespace, split with CLIP's regex, map bytes to unicode, merge by rank with '</w>' on each
    word's last symbol. transformers 5's CLIPTokenizer is built on `tokenizers` like ours, so this checks
    the algorithm itself. ftfy's text repair is left out: it changes none of the texts used here.
    """

    def __init__(self) -> None:
        import regex

        from pixseek.models.export.tokenizer_files import (
            BUNDLED_BPE,
            build_vocab,
            bytes_to_unicode,
            read_merges,
        )

        merges = read_merges(BUNDLED_BPE)
        self.vocab = build_vocab(merges)
        self.ranks = {pair: i for i, pair in enumerate(merges)}
        self.byte_chars = bytes_to_unicode()
        self.pattern = regex.compile(
            r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+",
            regex.IGNORECASE,
        )

    def _bpe(self, word: str) -> list[str]:
        if word in ("<|startoftext|>", "<|endoftext|>"):
            return [word]
        symbols = [*word[:-1], word[-1] + "</w>"]
        while len(symbols) > 1:
            pairs = set(itertools.pairwise(symbols))
            best = min(pairs, key=lambda p: self.ranks.get(p, float("inf")))
            if best not in self.ranks:
                break
            merged, i = [], 0
            while i < len(symbols):
                if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == best:
                    merged.append(symbols[i] + symbols[i + 1])
                    i += 2
                else:
                    merged.append(symbols[i])
                    i += 1
            symbols = merged
        return symbols

    def encode(self, text: str, context: int = 77) -> list[int]:
        import unicodedata

        text = " ".join(unicodedata.normalize("NFC", text).split()).lower()
        ids = [
            self.vocab[piece]
            for token in self.pattern.findall(text)
            for piece in self._bpe("".join(self.byte_chars[b] for b in token.encode("utf-8")))
        ]
        return [49406, *ids[: context - 2], 49407]


def test_token_ids_match_the_original_clip_algorithm(spec: ModelSpec) -> None:
    assert spec.text is not None
    ours = ClipTokenizer.from_file(TINY_CLIP / spec.text.tokenizer, context_length=77)
    reference = _OpenAiStyleBpe()
    ids, mask = ours.encode(TEXTS)
    for row, text in enumerate(TEXTS):
        expected = reference.encode(text)
        assert ids[row, : int(mask[row].sum())].tolist() == expected, text


def _normalised(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_image_embeddings_match_transformers(
    embedder: OnnxEmbedder, reference_model: transformers.CLIPModel, tmp_path: Path
) -> None:
    files = _real_images(tmp_path)
    loader = embedder.image_loader()
    pixels = np.stack([loader(p).pixels for p in files])
    ours = embedder.embed_pixels(pixels)
    with torch.no_grad():
        ref = reference_model.get_image_features(pixel_values=torch.from_numpy(pixels)).pooler_output.numpy()
    cosine = (ours * _normalised(ref)).sum(axis=1)
    assert cosine.min() >= COSINE, cosine.min()


def test_text_embeddings_match_transformers(
    spec: ModelSpec, embedder: OnnxEmbedder, reference_model: transformers.CLIPModel
) -> None:
    assert spec.text is not None
    ours = embedder.embed_texts(TEXTS)
    ids, mask = ClipTokenizer.from_file(TINY_CLIP / spec.text.tokenizer).encode(TEXTS)
    with torch.no_grad():
        ref = reference_model.get_text_features(
            input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)
        ).pooler_output.numpy()
    cosine = (ours * _normalised(ref)).sum(axis=1)
    assert cosine.min() >= COSINE, cosine.min()
