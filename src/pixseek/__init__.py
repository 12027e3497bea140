"""pixseek: content-based image retrieval with CLIP, on ONNX Runtime and LanceDB."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Index", "__version__"]

if TYPE_CHECKING:
    from pixseek.services import Index


def __getattr__(name: str) -> Any:
    """`pixseek.Index` without paying for LanceDB and FAISS on every `import pixseek`."""
    if name == "Index":
        from pixseek.services import Index

        return Index
    raise AttributeError(f"module 'pixseek' has no attribute {name!r}")
