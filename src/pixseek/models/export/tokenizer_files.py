"""CLIP's BPE vocabulary (`bpe_simple_vocab_16e6.txt.gz`) -> vocab.json/merges.txt -> a `tokenizers` JSON.

OpenAI ships the BPE merges only; CLIP builds its 49,408-token vocabulary from them in a fixed order
(byte symbols, the same with '</w>', one token per merge, then the two special tokens). We rebuild it
the same way so exports need no model hub.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from pixseek.errors import ModelFileError

BPE_FILE_NAME = "bpe_simple_vocab_16e6.txt.gz"
BUNDLED_BPE = Path(__file__).with_name(BPE_FILE_NAME)  # OpenAI's file (MIT), shared by all CLIP ViT-B/32s
VOCAB_SIZE = 49408
_N_MERGES = VOCAB_SIZE - 2 * 256 - 2  # 48,894 merges are used; the file holds more
START, END = "<|startoftext|>", "<|endoftext|>"


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP's reversible map from bytes to printable unicode characters."""
    ranges = (("!", "~"), ("¡", "¬"), ("®", "ÿ"))
    printable = [b for lo, hi in ranges for b in range(ord(lo), ord(hi) + 1)]
    chars = list(printable)
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(printable, map(chr, chars), strict=True))


def read_merges(bpe_path: Path) -> list[tuple[str, str]]:
    """The merges CLIP uses, in rank order."""
    try:
        lines = gzip.decompress(Path(bpe_path).read_bytes()).decode("utf-8").split("\n")
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{bpe_path}: not a readable CLIP BPE file ({exc})") from exc
    merges = [tuple(line.split()) for line in lines[1 : _N_MERGES + 1]]
    if len(merges) != _N_MERGES or any(len(m) != 2 for m in merges):
        raise ModelFileError(f"{bpe_path}: expected {_N_MERGES} merge lines")
    return merges  # type: ignore[return-value]


def build_vocab(merges: list[tuple[str, str]]) -> dict[str, int]:
    """Token -> id in CLIP's order."""
    symbols = list(bytes_to_unicode().values())
    tokens = [*symbols, *(s + "</w>" for s in symbols), *("".join(m) for m in merges), START, END]
    vocab = {tok: i for i, tok in enumerate(tokens)}
    if len(vocab) != VOCAB_SIZE:
        raise ModelFileError(f"CLIP vocabulary has {len(vocab)} tokens, expected {VOCAB_SIZE}")
    return vocab


def write_vocab_and_merges(bpe_path: Path, out_dir: Path) -> tuple[Path, Path]:
    """Write the slow-tokenizer files (vocab.json, merges.txt) that transformers' CLIPTokenizer reads."""
    merges = read_merges(bpe_path)
    out_dir.mkdir(parents=True, exist_ok=True)
    vocab_path, merges_path = out_dir / "vocab.json", out_dir / "merges.txt"
    vocab_path.write_text(json.dumps(build_vocab(merges), ensure_ascii=False), encoding="utf-8")
    lines = ["#version: 0.2", *(" ".join(m) for m in merges)]
    merges_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return vocab_path, merges_path


def write_tokenizer_json(bpe_path: Path, out_dir: Path, *, context_length: int = 77) -> Path:
    """Build CLIP's fast tokenizer with transformers and save its `tokenizer.json` into out_dir."""
    from transformers import CLIPTokenizer

    merges = read_merges(bpe_path)
    tok = CLIPTokenizer(vocab=build_vocab(merges), merges=merges, model_max_length=context_length)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "tokenizer.json"
    tok.backend_tokenizer.save(str(path), pretty=False)
    return path
