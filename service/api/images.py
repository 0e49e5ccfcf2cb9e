"""Uploaded images to model input, by the shared preprocessing (the `uploads` package, which
training's robustness suite applies too), with its errors as the service's."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import numpy as np

from service.errors import InvalidInput, PayloadTooLarge, ServiceError, UnsupportedMediaType
from uploads import preprocess
from uploads.preprocess import declared_pixels, to_model_input

__all__ = ["decode", "declared_pixels", "sniff", "to_model_input"]

_ERRORS: dict[type[ValueError], type[ServiceError]] = {
    preprocess.UndecodableImage: InvalidInput,
    preprocess.UnreadableShape: InvalidInput,
    preprocess.UnsupportedImageType: UnsupportedMediaType,
    preprocess.ImageTooLarge: PayloadTooLarge,
}
T = TypeVar("T")


def _as_service_error(call: Callable[[], T]) -> T:
    try:
        return call()
    except tuple(_ERRORS) as exc:
        raise _ERRORS[type(exc)](str(exc)) from None


def sniff(data: bytes) -> str:
    """'PNG' or 'JPEG' by the file's first bytes; anything else is refused unopened."""
    return _as_service_error(lambda: preprocess.sniff(data))


def decode(data: bytes, max_pixels: int) -> np.ndarray:
    """Grayscale float32 pixels (0-255) of a PNG or JPEG (uploads.preprocess.decode)."""
    return _as_service_error(lambda: preprocess.decode(data, max_pixels))
