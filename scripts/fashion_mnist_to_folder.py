"""Fashion-MNIST idx.gz files -> one folder of PNGs per class, the layout `pixseek eval` reads.

    python scripts/fashion_mnist_to_folder.py OUT [--split test|train|all] [--per-class N] [--seed 0]

Reads Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist) by default. `--per-class N`
keeps a stratified subset: N images of each class, drawn with `--seed`. Images stay 28x28 grayscale;
the model's preprocessing resizes them.
"""

from __future__ import annotations

import argparse
import gzip
from pathlib import Path

import numpy as np
from PIL import Image

DEFAULT_SOURCE = Path("/usr/share/datasets/fashion-mnist")
CLASSES = (
    "t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle_boot",
)  # fmt: skip
FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


def read_idx(path: Path) -> np.ndarray:
    """An IDX array (big-endian dims after a magic number whose last byte is the rank)."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    if data[:2] != b"\0\0" or data[2] != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    rank = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(rank))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank).reshape(shape)


def load_split(source: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    images_file, labels_file = FILES[split]
    images, labels = read_idx(source / images_file), read_idx(source / labels_file)
    if len(images) != len(labels):
        raise ValueError(f"{source}: {len(images)} images but {len(labels)} labels in the {split} split")
    return images, labels


def stratified_subset(labels: np.ndarray, per_class: int, *, seed: int) -> np.ndarray:
    """Indices of `per_class` images of each class, drawn at random with `seed`, sorted."""
    rng = np.random.default_rng(seed)
    picked = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        if len(members) < per_class:
            raise ValueError(f"class {CLASSES[label]} has only {len(members)} images, asked for {per_class}")
        picked.append(rng.choice(members, size=per_class, replace=False))
    return np.sort(np.concatenate(picked))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="output folder (OUT/<class>/<split>_<index>.png)")
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--split", choices=("test", "train", "all"), default="test")
    parser.add_argument("--per-class", type=int, default=None, help="stratified subset size per class")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    splits = ("train", "test") if args.split == "all" else (args.split,)
    written = 0
    for split in splits:
        images, labels = load_split(args.source, split)
        rows = np.arange(len(labels))
        if args.per_class is not None:
            rows = stratified_subset(labels, args.per_class, seed=args.seed)
        for name in CLASSES:
            (args.out / name).mkdir(parents=True, exist_ok=True)
        for i in rows:
            Image.fromarray(images[i], mode="L").save(args.out / CLASSES[labels[i]] / f"{split}_{i:05d}.png")
        written += len(rows)
    print(f"wrote {written} images in {len(CLASSES)} class folders under {args.out}")


if __name__ == "__main__":
    main()
