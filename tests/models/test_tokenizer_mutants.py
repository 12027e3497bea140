"""Tokenizer details the mutation run found unguarded: the constructor's default context length, and a
tokenizer_config.json read as UTF-8 whatever the locale."""

from __future__ import annotations

import json
import locale
from collections.abc import Iterator
from pathlib import Path

import pytest
from tokenizers import Tokenizer

from pixseek.models.tokenizer import ClipTokenizer
from tests.models.conftest import TINY_CLIP

TOKENIZER = TINY_CLIP / "tokenizer.json"  # CLIP's BPE: "!" is id 0, "<|endoftext|>" is 49407


def test_the_constructor_defaults_to_clips_77_token_context() -> None:
    """OpenAI CLIP's text transformer takes 77 tokens (context_length=77 in the released models)."""
    tok = ClipTokenizer(Tokenizer.from_file(str(TOKENIZER)), pad_id=49407)
    ids, mask = tok.encode(["a dog"])
    assert tok.context_length == 77 and ids.shape == mask.shape == (1, 77)


@pytest.fixture
def ascii_locale() -> Iterator[None]:
    """LC_CTYPE=C for this test only: the preferred encoding becomes ASCII, as in a bare container."""
    saved = locale.setlocale(locale.LC_CTYPE)
    locale.setlocale(locale.LC_CTYPE, "C")
    try:
        if locale.getpreferredencoding(False).lower().replace("-", "") == "utf8":
            pytest.skip("this interpreter runs in UTF-8 mode: the locale cannot change the default encoding")
        yield
    finally:
        locale.setlocale(locale.LC_CTYPE, saved)


def test_tokenizer_config_is_read_as_utf8_under_an_ascii_locale(tmp_path: Path, ascii_locale: None) -> None:
    """JSON files are UTF-8 (RFC 8259 section 8.1); transformers writes non-ASCII text into them as is."""
    (tmp_path / "tokenizer.json").write_bytes(TOKENIZER.read_bytes())
    config = {"pad_token": "!", "name_or_path": "clip – café"}
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")
    assert ClipTokenizer.from_file(tmp_path / "tokenizer.json").pad_id == 0


def test_a_pad_id_with_no_token_in_the_vocabulary_still_pads_with_that_id() -> None:
    """A text tower may size its embedding table past the tokenizer's vocabulary (49,408 ids here) and pad
    with an id beyond it: the ids are padded with it as asked, not refused for want of a token string."""
    tok = ClipTokenizer(Tokenizer.from_file(str(TOKENIZER)), context_length=6, pad_id=49408)
    ids, mask = tok.encode(["dog"])
    assert ids[0].tolist() == [49406, 1929, 49407, 49408, 49408, 49408]  # BOS, "dog", EOS (OpenAI's ids)
    assert mask[0].tolist() == [1, 1, 1, 0, 0, 0]
