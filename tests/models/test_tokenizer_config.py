"""Tokenizer details outside the happy path: pad-token sources and their errors, dtypes, pickling options."""

from __future__ import annotations

import json
import pickle
import re
from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer
from tokenizers.models import WordLevel

from pixseek.errors import ModelFileError
from pixseek.models.tokenizer import ClipTokenizer
from tests.models.conftest import TINY_CLIP

TOKENIZER = TINY_CLIP / "tokenizer.json"  # CLIP's BPE: "!" is id 0, "<|endoftext|>" is 49407


def _sibling_config(tmp_path: Path, config: str) -> Path:
    path = tmp_path / "tokenizer.json"
    path.write_bytes(TOKENIZER.read_bytes())
    (tmp_path / "tokenizer_config.json").write_text(config, encoding="utf-8")
    return path


def test_pad_token_saved_as_an_added_token_dict(tmp_path: Path) -> None:
    """transformers may save pad_token as {"content": ..., "lstrip": ...}: its content is the token."""
    config = json.dumps({"pad_token": {"content": "!", "lstrip": False, "rstrip": False}})
    assert ClipTokenizer.from_file(_sibling_config(tmp_path, config)).pad_id == 0


def test_broken_tokenizer_config_names_the_file(tmp_path: Path) -> None:
    path = _sibling_config(tmp_path, "{not json")
    config = tmp_path / "tokenizer_config.json"
    with pytest.raises(ModelFileError, match=re.escape(f"{config}: invalid JSON")):
        ClipTokenizer.from_file(path)


def test_no_pad_token_anywhere_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "tokenizer.json"
    Tokenizer(WordLevel({"a": 0, "[UNK]": 1}, unk_token="[UNK]")).save(str(path))
    message = f"{path}: no padding token configured and no '<|endoftext|>' in the vocabulary"
    with pytest.raises(ModelFileError, match=f"^{re.escape(message)}$"):
        ClipTokenizer.from_file(path)


def test_one_string_instead_of_a_list_is_refused_with_a_hint() -> None:
    """A bare string would otherwise be tokenised character by character, one row each."""
    tok = ClipTokenizer.from_file(TOKENIZER, context_length=8)
    message = "encode() takes a sequence of strings, not one string"
    with pytest.raises(TypeError, match=f"^{re.escape(message)}$"):
        tok.encode("a dog")  # type: ignore[arg-type]


def test_an_empty_batch_is_still_int64() -> None:
    """The ONNX text tower takes int64 inputs only; an empty batch must not turn into float64."""
    ids, mask = ClipTokenizer.from_file(TOKENIZER, context_length=8).encode([])
    assert ids.dtype == mask.dtype == np.int64 and ids.shape == (0, 8)


def test_a_pickled_tokenizer_keeps_its_context_length() -> None:
    clone = pickle.loads(pickle.dumps(ClipTokenizer.from_file(TOKENIZER, context_length=8)))
    ids, mask = clone.encode(["a dog"])
    assert clone.context_length == 8 and ids.shape == mask.shape == (1, 8)
