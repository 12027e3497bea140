"""CLIP's BPE through the `tokenizers` library, padded and truncated like HF CLIPTokenizer(max_length)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from pixseek.errors import ModelFileError

END_OF_TEXT = "<|endoftext|>"  # CLIP pads with its end token when nothing else is configured


class ClipTokenizer:
    """Texts -> (input_ids, attention_mask), int64 (N, context_length), BOS ... EOS then padding.

    Long texts are cut so EOS stays the last real token, as HF's `truncation=True` does. The pad id is
    the tokenizer.json's own padding setting, else `pad_token` from a sibling tokenizer_config.json,
    else `<|endoftext|>` (OpenAI CLIP's convention).
    """

    def __init__(self, tokenizer: Tokenizer, *, context_length: int = 77, pad_id: int) -> None:
        self._tok = tokenizer
        self.context_length = context_length
        self.pad_id = pad_id
        tokenizer.enable_truncation(max_length=context_length)
        pad_token = tokenizer.id_to_token(pad_id) or END_OF_TEXT
        tokenizer.enable_padding(length=context_length, pad_id=pad_id, pad_token=pad_token)

    @classmethod
    def from_file(
        cls, path: str | Path, *, context_length: int = 77, pad_id: int | None = None
    ) -> ClipTokenizer:
        path = Path(path)
        try:
            tokenizer = Tokenizer.from_file(str(path))
        except Exception as exc:  # tokenizers raises plain Exception subclasses for bad JSON/models
            raise ModelFileError(f"{path}: not a valid tokenizer.json ({exc})") from exc
        if pad_id is None:
            pad_id = _configured_pad_id(path, tokenizer)
        return cls(tokenizer, context_length=context_length, pad_id=pad_id)

    def encode(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        if isinstance(texts, str):
            raise TypeError("encode() takes a sequence of strings, not one string")
        encodings = self._tok.encode_batch(list(texts))
        shape = (len(encodings), self.context_length)
        ids = np.array([e.ids for e in encodings], dtype=np.int64).reshape(shape)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64).reshape(shape)
        return ids, mask

    def __getstate__(self) -> dict:
        return {"json": self._tok.to_str(), "context_length": self.context_length, "pad_id": self.pad_id}

    def __setstate__(self, state: dict) -> None:
        self.__init__(  # type: ignore[misc]
            Tokenizer.from_str(state["json"]), context_length=state["context_length"], pad_id=state["pad_id"]
        )


def _configured_pad_id(path: Path, tokenizer: Tokenizer) -> int:
    padding = tokenizer.padding
    if padding is not None:
        return int(padding["pad_id"])
    names = [END_OF_TEXT]
    config = path.with_name("tokenizer_config.json")
    if config.is_file():
        try:
            token = json.loads(config.read_text(encoding="utf-8")).get("pad_token")
        except ValueError as exc:
            raise ModelFileError(f"{config}: invalid JSON ({exc})") from exc
        if isinstance(token, dict):  # AddedToken serialised as a dict
            token = token.get("content")
        if isinstance(token, str):
            names.insert(0, token)
    for name in names:
        token_id = tokenizer.token_to_id(name)
        if token_id is not None:
            return token_id
    raise ModelFileError(f"{path}: no padding token configured and no {END_OF_TEXT!r} in the vocabulary")
