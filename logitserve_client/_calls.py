"""Every call the client makes, as data: the request to send and how to read the answer.
No I/O here, so the sync and the async client share all of it and differ only in how they
wait."""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Generic, TypeAlias, TypeVar
from urllib.parse import quote

import httpx
import numpy as np

from logitserve_client._errors import InputError
from logitserve_client._results import (
    InferResult,
    ModelInfo,
    ModelSummary,
    Predictions,
)

T = TypeVar("T")

#: One image: a path, its bytes, or an open binary file.
Image: TypeAlias = str | os.PathLike[str] | bytes | bytearray | memoryview | IO[bytes]
#: Rows for v1: a numpy array (first axis: the rows), a list of rows (lists of numbers, nested
#: lists for images, or dicts keyed by feature name), or one dict of features.
Instances: TypeAlias = np.ndarray | Sequence[Any] | Mapping[str, Any]

# The Open Inference Protocol's datatypes that a model input can have, as numpy types.
DATATYPES: dict[str, np.dtype] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype(np.uint8),
    "UINT16": np.dtype(np.uint16),
    "UINT32": np.dtype(np.uint32),
    "UINT64": np.dtype(np.uint64),
    "INT8": np.dtype(np.int8),
    "INT16": np.dtype(np.int16),
    "INT32": np.dtype(np.int32),
    "INT64": np.dtype(np.int64),
    "FP16": np.dtype(np.float16),
    "FP32": np.dtype(np.float32),
    "FP64": np.dtype(np.float64),
}
BINARY_HEADER = "inference-header-content-length"
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


@dataclass(frozen=True)
class InputTensor:
    """What v2 inference needs to know of a model's input (from its v2 metadata)."""

    name: str
    datatype: str


def _model_path(name: str, version: int | str | None) -> str:
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
    return Call("GET", "/v1" + _model_path(name, version), lambda r: ModelInfo.from_json(r.json()))


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
        "/v1" + _model_path(name, version) + "/predict",
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
        "/v1" + _model_path(name, version) + "/predict/image",
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


# -- v2 ---------------------------------------------------------------------------------------


def input_tensor(name: str, version: int | str | None = None) -> Call[InputTensor]:
    def parse(r: httpx.Response) -> InputTensor:
        tensor = r.json()["inputs"][0]
        return InputTensor(tensor["name"], tensor["datatype"])

    return Call("GET", "/v2" + _model_path(name, version), parse)


def infer(
    name: str,
    array: np.ndarray,
    tensor: InputTensor,
    version: int | str | None = None,
    outputs: Sequence[str] = ("probabilities",),
    classification: int = 0,
    binary: bool = True,
    request_id: str | None = None,
) -> Call[InferResult]:
    values = _as_datatype(np.asarray(array), tensor.datatype)
    entry: dict[str, Any] = {
        "name": tensor.name,
        "datatype": tensor.datatype,
        "shape": list(values.shape),
    }
    blob = b""
    if binary:
        blob = np.ascontiguousarray(values, dtype=values.dtype.newbyteorder("<")).tobytes()
        entry["parameters"] = {"binary_data_size": len(blob)}
    else:
        entry["data"] = values.ravel().tolist()
    request: dict[str, Any] = {
        "inputs": [entry],
        "outputs": [
            {"name": o, "parameters": {"binary_data": binary, "classification": classification}}
            for o in outputs
        ],
    }
    if request_id is not None:
        request["id"] = request_id
    header = json.dumps(request, separators=(",", ":")).encode()
    headers = {"content-type": "application/octet-stream" if binary else "application/json"}
    if binary:
        headers[BINARY_HEADER] = str(len(header))
    return Call(
        "POST",
        "/v2" + _model_path(name, version) + "/infer",
        _parse_infer,
        content=header + blob,
        headers=headers,
    )


def _as_datatype(values: np.ndarray, datatype: str) -> np.ndarray:
    """The array in the model's datatype; a conversion that would change a value is refused."""
    dtype = DATATYPES.get(datatype)
    if dtype is None:
        raise InputError(f"the model's input datatype {datatype} is not one this client sends")
    if values.dtype == dtype:
        return values
    if values.ndim == 0:
        raise InputError("give a batch: an array whose first axis is the rows")
    if dtype.kind in "ui" and values.dtype.kind == "f":
        # Float pixels (0.0-255.0, as image libraries give them) round to the nearest integer.
        if not np.isfinite(values).all():
            raise InputError(f"NaN or infinity cannot be sent as {datatype}")
        values = np.rint(values)
    info = np.iinfo(dtype) if dtype.kind in "ui" else None
    if info is not None and values.size and (values.min() < info.min or values.max() > info.max):
        raise InputError(f"values outside {info.min}..{info.max} cannot be sent as {datatype}")
    converted = values.astype(dtype)
    if dtype.kind in "ui" and not np.array_equal(converted, values):
        raise InputError(f"the values cannot be sent as {datatype} unchanged")
    return converted


def _parse_infer(r: httpx.Response) -> InferResult:
    content = r.content
    length = r.headers.get(BINARY_HEADER)
    split = int(length) if length is not None else len(content)
    doc = json.loads(content[:split])
    offset = split
    outputs: dict[str, np.ndarray] = {}
    for out in doc.get("outputs", []):
        shape = tuple(out["shape"])
        size = (out.get("parameters") or {}).get("binary_data_size")
        if size is not None:
            blob = content[offset : offset + size]
            offset += size
            if out["datatype"] == "BYTES":
                array = np.array(_bytes_elements(blob), dtype=object)
            else:
                array = np.frombuffer(blob, dtype=DATATYPES[out["datatype"]].newbyteorder("<"))
        elif out["datatype"] == "BYTES":
            array = np.array(out["data"], dtype=object)
        else:
            array = np.asarray(out["data"], dtype=DATATYPES[out["datatype"]])
        outputs[out["name"]] = array.reshape(shape)
    return InferResult(doc["model_name"], str(doc["model_version"]), doc.get("id"), outputs)


def _bytes_elements(blob: bytes) -> list[str]:
    """Triton's BYTES tensor: each element a 4-byte little-endian length, then its bytes."""
    items, offset = [], 0
    while offset < len(blob):
        (length,) = struct.unpack_from("<I", blob, offset)
        offset += 4
        items.append(blob[offset : offset + length].decode())
        offset += length
    return items


# -- health -----------------------------------------------------------------------------------


def ready(name: str | None = None, version: int | str | None = None) -> Call[bool]:
    path = "/v2" + (_model_path(name, version) + "/ready" if name else "/health/ready")
    return Call(
        "GET", path, lambda r: r.status_code == 200, expect=frozenset({200, 503}), retry=False
    )
