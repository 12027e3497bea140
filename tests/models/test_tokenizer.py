"""CLIP tokenizer on `tokenizers`: known ids, padding, truncation keeping EOS, unicode, pad-id sources."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from pixseek.errors import ModelFileError
from pixseek.models.tokenizer import ClipTokenizer
from tests.models.conftest import TINY_CLIP

BOS, EOS = 49406, 49407
TOKENIZER = TINY_CLIP / "tokenizer.json"  # CLIP's real BPE vocabulary (49,408 tokens)


@pytest.fixture(scope="module")
def tok() -> ClipTokenizer:
    return ClipTokenizer.from_file(TOKENIZER)


def test_known_clip_ids_then_end_token_padding(tok: ClipTokenizer) -> None:
    ids, mask = tok.encode(["a photo of a dog"])
    assert ids.dtype == np.int64 and mask.dtype == np.int64 and ids.shape == mask.shape == (1, 77)
    assert ids[0, :7].tolist() == [BOS, 320, 1125, 539, 320, 1929, EOS]  # OpenAI CLIP's ids
    assert (ids[0, 7:] == EOS).all()  # padded with <|endoftext|>, as openai/clip-vit-base-patch32
    assert mask[0].tolist() == [1] * 7 + [0] * 70


def test_empty_string_is_start_and_end_only(tok: ClipTokenizer) -> None:
    ids, mask = tok.encode([""])
    assert ids[0, :2].tolist() == [BOS, EOS] and mask[0].sum() == 2


def test_long_text_is_cut_keeping_the_end_token(tok: ClipTokenizer) -> None:
    ids, mask = tok.encode(["dog " * 200])
    assert ids.shape == (1, 77) and mask[0].all()
    assert ids[0, 0] == BOS and ids[0, -1] == EOS and (ids[0, 1:-1] == 1929).all()


def test_case_and_whitespace_are_normalised(tok: ClipTokenizer) -> None:
    ids, _ = tok.encode(["  A   Photo\tof\na DOG ", "a photo of a dog"])
    assert np.array_equal(ids[0], ids[1])


def test_unicode_and_emoji_tokenise(tok: ClipTokenizer) -> None:
    ids, mask = tok.encode(["Ünïcødé 日本語 🐶", "café"])
    assert (ids[:, 0] == BOS).all()
    assert all(ids[i, mask[i].sum() - 1] == EOS for i in range(2))
    assert mask[0].sum() > 5  # bytes of unusual characters become several tokens, none dropped


def test_context_length_is_configurable(tok: ClipTokenizer) -> None:
    short = ClipTokenizer.from_file(TOKENIZER, context_length=8)
    ids, mask = short.encode(["one two three four five six seven eight nine"])
    assert ids.shape == (1, 8) and ids[0, -1] == EOS and mask.all()


def test_a_batch_has_one_row_per_text(tok: ClipTokenizer) -> None:
    ids, mask = tok.encode(["a", "b c", ""])
    assert ids.shape == (3, 77) and mask.sum(axis=1).tolist() == [3, 4, 2]
    empty_ids, empty_mask = tok.encode([])
    assert empty_ids.shape == empty_mask.shape == (0, 77)
    with pytest.raises(TypeError):
        tok.encode("a single string")  # type: ignore[arg-type]


def test_pad_token_from_a_sibling_tokenizer_config(tmp_path: Path) -> None:
    (tmp_path / "tokenizer.json").write_bytes(TOKENIZER.read_bytes())
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"pad_token": "!"}))  # open_clip pads with 0
    ids, _ = ClipTokenizer.from_file(tmp_path / "tokenizer.json").encode(["dog"])
    assert ids[0, :3].tolist() == [BOS, 1929, EOS] and (ids[0, 3:] == 0).all()


def test_padding_configured_in_tokenizer_json_wins(tmp_path: Path) -> None:
    data = json.loads(TOKENIZER.read_text(encoding="utf-8"))
    data["padding"] = {
        "strategy": {"Fixed": 77},
        "direction": "Right",
        "pad_to_multiple_of": None,
        "pad_id": 0,
        "pad_type_id": 0,
        "pad_token": "!",
    }
    path = tmp_path / "tokenizer.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    assert ClipTokenizer.from_file(path).pad_id == 0


def test_invalid_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "tokenizer.json"
    path.write_text("{not json")
    with pytest.raises(ModelFileError, match=r"tokenizer\.json"):
        ClipTokenizer.from_file(path)


def test_pickles(tok: ClipTokenizer) -> None:
    clone = pickle.loads(pickle.dumps(tok))
    assert np.array_equal(clone.encode(["a cat"])[0], tok.encode(["a cat"])[0])
