"""Models on ONNX Runtime: the model folder format, registry, image decoding, preprocessing, embedder.

Import submodules directly (`pixseek.models.registry`, `pixseek.models.embedder`); this package
imports nothing heavy so `pixseek.models.spec` stays cheap for the catalog and CLI.
"""
