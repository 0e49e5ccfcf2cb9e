"""How an uploaded photo or scan of a digit becomes a model's input: where both halves meet.

The service applies this to every uploaded image (``predict/image``); training applies the very
same code to its robustness suite and its upload-like augmentation, so what a model is measured
on is exactly what it will be sent. It depends on numpy and Pillow only: no torch, no FastAPI,
neither ``service`` nor ``training`` (tests/test_architecture.py checks both directions).

Errors are plain ``ValueError`` subclasses; each caller maps them to its own (the service to
4xx responses).
"""

from uploads.preprocess import (
    ImageTooLarge,
    UndecodableImage,
    UnreadableShape,
    UnsupportedImageType,
    declared_pixels,
    decode,
    sniff,
    to_model_input,
)

__all__ = [
    "ImageTooLarge",
    "UndecodableImage",
    "UnreadableShape",
    "UnsupportedImageType",
    "decode",
    "declared_pixels",
    "sniff",
    "to_model_input",
]
