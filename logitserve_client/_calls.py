"""Every v1 call the client makes (and the health checks), as data: the request to send and
how to read the answer. No I/O here, so the sync and the async client share all of it and
differ only in how they wait. The v2 calls are in `_v2`."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Generic, TypeAlias, TypeVar
from urllib.parse import quote

import httpx
import numpy as np

from logitserve_client._errors import InputError
from logitserve_client._results import ModelInfo, ModelSummary, Predictions

T = TypeVar("T")

#: One image: a path, its bytes, or an open binary file.
Image: TypeAlias = str | os.PathLike[str] | bytes | bytearray | memoryview | IO[bytes]
#: Rows for v1: a numpy array (first axis: the rows), a list of rows (lists of numbers, nested
#: lists for images, or dicts keyed by feature name), or one dict of features.
Instances: TypeAlias = np.ndarray | Sequence[Any] | Mapping[str, Any]

MAGIC = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg"}


@dataclass(frozen=True)
class Call(Generic[T]):
    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    params: Mapping[str, str] | None = None
    content: bytes | None = None
    files: list[tuple[str, tuple[str, bytes, str]]] | None = None
    headers: Mapping[str, str] | None = None
    expect: frozenset[int] = frozenset({200})  # statuses handed to parse; others raise
    retry: bool = True


def model_path(name: str, version: int | str | None) -> str:
    path = f"/models/{quote(name, safe='')}"
    if version is not None:
        path += f"/versions/{quote(str(version), safe='')}"
    return path


# -- v1 ---------------------------------------------------------------------------------------


def list_models() -> Call[list[ModelSummary]]:
    def parse(r: httpx.Response) -> list[ModelSummary]:
        return [ModelSummary.from_json(m) for m in r.json()["models"]]

    return Call("GET", "/v1/models", parse)


def model_info(name: str, version: int | str | None = None) -> Call[ModelInfo]:
    return Call("GET", "/v1" + model_path(name, version), lambda r: ModelInfo.from_json(r.json()))


def _options(top_k: int | None, threshold: float | None) -> dict[str, str]:
    params = {}
    if top_k is not None:
        params["top_k"] = str(int(top_k))
    if threshold is not None:
        params["threshold"] = repr(float(threshold))
    return params


def _parse_predictions(r: httpx.Response) -> Predictions:
    return Predictions.from_json(r.json())


def predict(
    name: str,
    instances: Instances,
    version: int | str | None = None,
    top_k: int | None = None,
    threshold: float | None = None,
) -> Call[Predictions]:
    body = {"instances": _instances(instances)}
    try:
        content = json.dumps(body, allow_nan=False, default=_plain, separators=(",", ":"))
    except ValueError:
        raise InputError("the instances hold NaN or infinity, which JSON cannot carry") from None
    return Call(
        "POST",
        "/v1" + model_path(name, version) + "/predict",
        _parse_predictions,
        params=_options(top_k, threshold),
        content=content.encode(),
        headers={"content-type": "application/json"},
    )


def predict_images(
    name: str,
    images: Image | Iterable[Image],
    version: int | str | None = None,
    top_k: int | None = None,
    threshold: float | None = None,
) -> Call[Predictions]:
    single = isinstance(images, str | os.PathLike | bytes | bytearray | memoryview) or hasattr(
        images, "read"
    )
    items: list[Image] = [images] if single else list(images)  # type: ignore[list-item,arg-type]
    if not items:
        raise InputError("no images given")
    files = [("files", _image_part(image, i)) for i, image in enumerate(items)]
    return Call(
        "POST",
        "/v1" + model_path(name, version) + "/predict/image",
        _parse_predictions,
        params=_options(top_k, threshold),
        files=files,
    )


def _instances(instances: Instances) -> list[Any]:
    if isinstance(instances, np.ndarray):
        if instances.ndim == 0:
            raise InputError("instances: give rows (an array whose first axis is the rows)")
        return instances.tolist()
    if isinstance(instances, Mapping):
        return [dict(instances)]  # one row of named features
    if isinstance(instances, str | bytes):
        raise InputError("instances: give rows of numbers or dicts of features, not text")
    return list(instances)


def _plain(value: object) -> object:
    """JSON for numpy values inside lists and dicts."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot send {type(value).__name__} as a number")


def _image_part(image: Image, index: int) -> tuple[str, bytes, str]:
    if isinstance(image, str | os.PathLike):
        path = Path(image)
        try:
            data = path.read_bytes()
        except OSError as error:
            raise InputError(f"cannot read image {str(path)!r}: {error.strerror}") from None
        filename = path.name
    elif isinstance(image, bytes | bytearray | memoryview):
        data, filename = bytes(image), f"image-{index}"
    else:
        data = image.read()
        filename = Path(str(getattr(image, "name", f"image-{index}"))).name
    kind = next((m for magic, m in MAGIC.items() if data.startswith(magic)), None)
    return filename, data, kind or "application/octet-stream"


# -- health -----------------------------------------------------------------------------------


def ready(name: str | None = None, version: int | str | None = None) -> Call[bool]:
    path = "/v2" + (model_path(name, version) + "/ready" if name else "/health/ready")
    return Call(
        "GET", path, lambda r: r.status_code == 200, expect=frozenset({200, 503}), retry=False
    )
