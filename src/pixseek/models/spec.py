"""The model folder format: a `pixseek-model.json` manifest beside ONNX files, and its validation."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from pixseek.errors import ModelFileError

MANIFEST_NAME = "pixseek-model.json"
FORMAT_VERSION = 1

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True, slots=True)
class ImageTower:
    """How to turn an image into the image tower's input, and where that tower lives."""

    file: str  # ONNX file, relative to the model folder
    size: int = 224  # output is size x size
    resize: Literal["shortest", "squash"] = "shortest"  # shortest side -> size, or both sides -> size
    crop: Literal["center", "none"] = "center"
    interpolation: Literal["bicubic", "bilinear", "nearest"] = "bicubic"
    mean: tuple[float, float, float] = CLIP_MEAN
    std: tuple[float, float, float] = CLIP_STD
    input_name: str = "pixel_values"
    output_name: str = "image_embeds"
    file_int8: str | None = None  # optional quantised variant of `file`


@dataclass(frozen=True, slots=True)
class TextTower:
    """Where the text tower and its tokenizer live."""

    file: str
    tokenizer: str = "tokenizer.json"  # a `tokenizers` JSON file
    context_length: int = 77
    input_ids_name: str = "input_ids"
    attention_mask_name: str | None = "attention_mask"
    output_name: str = "text_embeds"


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """Everything needed to load and run a model; serialised as the manifest."""

    name: str
    dim: int
    image: ImageTower
    text: TextTower | None = None
    description: str = ""
    format_version: int = FORMAT_VERSION
    files_sha256: dict[str, str] = field(default_factory=dict)  # optional integrity check

    @property
    def has_text(self) -> bool:
        return self.text is not None

    def preprocess_fingerprint(self) -> str:
        """A short hash of everything that changes pixels, so indexes notice preprocessing changes."""
        im = self.image
        key = json.dumps([im.size, im.resize, im.crop, im.interpolation, list(im.mean), list(im.std)])
        return hashlib.sha256(key.encode()).hexdigest()[:12]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    def save(self, folder: Path) -> Path:
        path = Path(folder) / MANIFEST_NAME
        path.write_text(self.to_json() + "\n", encoding="utf-8")
        return path

    @classmethod
    def from_dict(cls, data: dict) -> ModelSpec:
        data = dict(data)
        version = data.get("format_version", FORMAT_VERSION)
        if version != FORMAT_VERSION:
            raise ModelFileError(f"{MANIFEST_NAME}: format_version {version} is not supported")
        image = dict(data.pop("image"))
        for key in ("mean", "std"):
            image[key] = tuple(image[key])
        text = data.pop("text", None)
        return cls(
            image=ImageTower(**image),
            text=TextTower(**text) if text else None,
            **data,
        )

    @classmethod
    def load(cls, folder: Path) -> ModelSpec:
        """Read and validate a model folder's manifest; errors name the offending file."""
        path = Path(folder) / MANIFEST_NAME
        if not path.is_file():
            raise ModelFileError(f"{path}: manifest missing; is {folder} a pixseek model folder?")
        try:
            spec = cls.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, TypeError, KeyError) as exc:
            raise ModelFileError(f"{path}: invalid manifest ({exc})") from exc
        spec.check_files(Path(folder))
        return spec

    def check_files(self, folder: Path) -> None:
        """Raise ModelFileError naming the first missing or mismatching file."""
        names = [self.image.file]
        if self.text is not None:
            names += [self.text.file, self.text.tokenizer]
        for name in names:
            if not (folder / name).is_file():
                raise ModelFileError(f"{folder / name}: file missing from model {self.name!r}")
        for name, digest in self.files_sha256.items():
            path = folder / name
            if not path.is_file():
                raise ModelFileError(f"{path}: file missing from model {self.name!r}")
            if _sha256(path) != digest:
                raise ModelFileError(f"{path}: checksum mismatch; the file is corrupt or replaced")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
