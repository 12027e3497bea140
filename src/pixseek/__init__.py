"""pixseek: content-based image retrieval with CLIP, on ONNX Runtime and LanceDB."""

__version__ = "0.1.0"
