"""Export to the pixseek model format (needs the [torch] extra): transformers CLIP, EfficientNet-Lite, int8.

Submodules import torch, so import them directly (`pixseek.models.export.clip`), never from here.
"""
