"""One configuration object (env prefix PIXSEEK_), built at entry points and passed down; no I/O here."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from pixseek.errors import SettingsError
from pixseek.locations import as_location

DEFAULT_MODEL = "clip-vit-b32"
DEFAULT_MAX_IMAGE_PIXELS = 200_000_000  # real 170 MP PNGs must index; bombs beyond this are refused


def _names(value: object) -> object:
    """A list setting from the environment: a JSON list, or names separated by commas (the easy mistake)."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith("["):
        import json

        try:
            parts = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not a JSON list ({exc.msg})") from None
        if not isinstance(parts, list) or not all(isinstance(part, str) for part in parts):
            raise ValueError("not a JSON list of strings")
    else:
        parts = text.split(",")
    return tuple(part.strip() for part in parts if part.strip())  # either form: no blank or padded entry


NameList = Annotated[tuple[str, ...], NoDecode, BeforeValidator(_names)]


class Settings(BaseSettings):
    """Everything a user can tune; each field can be set as PIXSEEK_<NAME> in the environment."""

    model_config = SettingsConfigDict(env_prefix="PIXSEEK_", extra="ignore")

    db: Annotated[Path | str, BeforeValidator(as_location)] = Path("pixseek.db")  # folder or s3:// URI
    model: str = DEFAULT_MODEL
    model_cache: Path | None = None  # where exported/downloaded models live; None = platform default
    offline: bool = False  # never try the network for models
    int8: bool = False  # use the quantised image tower when the model has one
    batch_size: int = Field(default=32, ge=1, le=4096)
    threads: int | None = Field(default=None, ge=1)  # ONNX Runtime intra-op threads; None = all cores
    providers: NameList = Field(default=("CPUExecutionProvider",), min_length=1)  # ONNX Runtime's, in order
    workers: int | None = Field(default=None, ge=0)  # decode processes; None = cores // 4, 0 = threads
    max_image_pixels: int = Field(default=DEFAULT_MAX_IMAGE_PIXELS, ge=1)
    max_upload_bytes: int = Field(default=20 * 1024 * 1024, ge=1)
    max_k: int = Field(default=1000, ge=1)
    # exact search below, FAISS ANN at/above: exact costs ~8 ms/query at 100k x 512-d on 2 cores (17 ms
    # at 200k) while IVF stays <= 3 ms at recall@10 >= 0.95; see benchmarks/search_bench.py
    ann_threshold: int = Field(default=100_000, ge=0)
    # from this many rows, a local catalog's vectors stay on disk: IVF-PQ codes in RAM plus an exact refine
    # from the memory-mapped vector file (search/compressed.py); 1M x 512-d float32 is 2 GB in RAM
    compressed_threshold: int = Field(default=1_000_000, ge=1_000)  # PQ training needs some rows
    # an ANN index keeps serving newer versions while at most this many rows (and 10% of the catalog) were
    # added, changed or deleted since its build: those are searched exactly, and a rebuild waits until then
    ann_delta_limit: int = Field(default=50_000, ge=0)
    # an object-store catalog is checked for a new version at most this often (each check is a request to
    # the store); a local catalog is checked on every call, by one stat while it is still
    version_check_seconds: float = Field(default=1.0, ge=0)
    # where a replica keeps its local copy of an object-store catalog's compressed index (the refine reads
    # rows from it); None = $XDG_CACHE_HOME/pixseek/ann
    ann_cache: Path | None = None
    # a replica's start reads the compressed index's vector file into the page cache, so its first queries
    # need no random disk reads: "wait" holds readiness until done, "background" serves meanwhile, "off"
    # skips it. Files larger than 80% of the available memory are never read this way.
    ann_warmup: Literal["wait", "background", "off"] = "wait"
    include_hidden: bool = False
    api_token: SecretStr | None = None  # serve: required as "Authorization: Bearer <token>" when set
    max_concurrent: int = Field(default=64, ge=1)  # serve: requests in flight before 503
    rate_limit: float | None = Field(default=None, gt=0)  # serve: requests per second per client (429)
    cors_origins: NameList = ()  # serve: origins whose pages may call the API (none by default)


def load_settings(given_as: str = "its argument", **overrides: object) -> Settings:
    """Settings from the environment with `overrides` (not None) on top; a bad value is a SettingsError
    naming the setting and where it came from (`given_as` for an override, else its PIXSEEK_ variable),
    not pydantic's several-line report."""
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**given)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else "settings"
        where = given_as if name in given else f"PIXSEEK_{name.upper()}"
        raise SettingsError(f"{name} ({where}): {first['msg']}, got {first.get('input')!r}") from None
