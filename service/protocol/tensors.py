"""A tensor's values, however they arrived, as a numpy array: strictly, and with no
per-element Python on the common paths.

A request's tensor holds its values in one of four forms, each turned into an array of the
model's datatype only once the data plane has checked the tensor's name, datatype and shape:
`Values` (numbers as Python objects: JSON's `data`), `WholeNumbers` (pixels parsed straight
from the JSON text, see api/numbers.py), `Numbers` (gRPC's typed contents, in an array of
their wire type) and `RawBytes` (HTTP's binary tensor data, gRPC's `raw_input_contents`).

JSON has no types finer than "number", and a lenient converter lets `true`, `"3"`, `"nan"`
and `1e999` through as numbers. Here a number is an int or a float (never a bool, never a
string), finite, and within the range of the datatype; anything else is an InvalidInput
that names the problem.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from itertools import chain

import numpy as np

from service.errors import InvalidInput, PayloadTooLarge, describe
from service.protocol.datatypes import DATATYPES

FP32_MAX = float(np.finfo(np.float32).max)
MAX_DIMS = 8
SHAPE_RULE = f"shape must be a list of 1 to {MAX_DIMS} non-negative integers"


class Values:
    """Numbers as Python objects, flat or nested as the shape. `may_hold_booleans`: False
    when the sender knows there are none (no `true`/`false` in the JSON text, or typed
    contents), which saves a pass over every value."""

    __slots__ = ("data", "may_hold_booleans")

    def __init__(self, data: object, may_hold_booleans: bool = True) -> None:
        self.data = data
        self.may_hold_booleans = may_hold_booleans

    def array(self, datatype: str, shape: tuple[int, ...], what: str) -> np.ndarray:
        values = flatten(self.data, shape, what)
        if datatype == "UINT8":
            return uint8_array(values, what, booleans=self.may_hold_booleans)
        if datatype == "FP32":
            return fp32_array(values, what)
        raise InvalidInput(f"{what}: unsupported datatype {describe(datatype)}")


class WholeNumbers:
    """Whole numbers already parsed from the JSON text into a flat array (api/numbers.py)."""

    __slots__ = ("values",)

    def __init__(self, values: np.ndarray) -> None:
        self.values = values

    def array(self, datatype: str, shape: tuple[int, ...], what: str) -> np.ndarray:
        values = self.values
        if values.size != math.prod(shape):
            raise InvalidInput(f"{what}: data does not match shape {list(shape)}")
        if datatype == "UINT8":
            if values.size and int(values.max()) > 255:
                raise InvalidInput(f"{what}: pixel values must be within 0-255")
            return values.astype(np.uint8)
        if datatype == "FP32":
            return values.astype(np.float32)
        raise InvalidInput(f"{what}: unsupported datatype {describe(datatype)}")


class RawBytes:
    """Little-endian values back to back, read in place (never copied). `label` names where
    they came from in messages (`binary_data_size`, `raw_input_contents`)."""

    __slots__ = ("data", "label")

    def __init__(self, data: memoryview | bytes, label: str) -> None:
        self.data = data
        self.label = label

    def array(self, datatype: str, shape: tuple[int, ...], what: str) -> np.ndarray:
        dtype = _LITTLE_ENDIAN[datatype]
        expected = math.prod(shape) * dtype.itemsize
        if len(self.data) != expected:
            raise InvalidInput(
                f"{what}: shape {list(shape)} needs {expected} bytes, "
                f"{self.label} is {len(self.data)}"
            )
        values = np.frombuffer(self.data, dtype=dtype)
        if values.dtype == np.float32 and not np.isfinite(values).all():
            raise InvalidInput(f"{what}: values must be finite (no NaN or Infinity)")
        return values


class Numbers:
    """Numbers already in an array of the type they travelled as (gRPC's typed contents, read
    by numpy straight from protobuf's repeated fields): counted against the shape, then held
    to the datatype's range and, for floats, to finite values."""

    __slots__ = ("values", "label")

    def __init__(self, values: np.ndarray, label: str) -> None:
        self.values = values
        self.label = label

    def array(self, datatype: str, shape: tuple[int, ...], what: str) -> np.ndarray:
        values = self.values
        expected = math.prod(shape)
        if values.size != expected:
            raise InvalidInput(
                f"{what}: shape {list(shape)} needs {expected} values, "
                f"{self.label} has {values.size}"
            )
        if datatype == "UINT8":
            if values.size and (int(values.max()) > 255 or int(values.min()) < 0):
                raise InvalidInput(f"{what}: pixel values must be within 0-255")
            return values.astype(np.uint8)
        if datatype == "FP32":
            if not np.isfinite(values).all():
                raise InvalidInput(f"{what}: values must be finite (no NaN or Infinity)")
            return values.astype(np.float32, copy=False)
        raise InvalidInput(f"{what}: unsupported datatype {describe(datatype)}")


Content = Values | WholeNumbers | RawBytes | Numbers

_LITTLE_ENDIAN = {name: datatype.numpy.newbyteorder("<") for name, datatype in DATATYPES.items()}


def check_shape(shape: Sequence[object], what: str, max_elements: int) -> tuple[int, ...]:
    """A client-declared shape: 1 to 8 non-negative ints, not too many elements."""
    if not shape or len(shape) > MAX_DIMS:
        raise InvalidInput(f"{what}: {SHAPE_RULE}")
    for dim in shape:
        if type(dim) is not int or dim < 0:
            raise InvalidInput(f"{what}: {SHAPE_RULE}")
    if math.prod(shape) > max_elements:  # type: ignore[arg-type]
        raise PayloadTooLarge(
            f"{what}: shape {list(shape)} holds more elements than the limit allows"
        )
    return tuple(shape)  # type: ignore[arg-type]


def flatten(data: object, shape: tuple[int, ...], what: str) -> list[object]:
    """Tensor data, flat or nested as `shape`, as one flat list (row-major)."""
    if not isinstance(data, list):
        raise InvalidInput(f"{what}: data must be a JSON array")
    total = math.prod(shape)
    if len(data) == total and (total == 0 or type(data[0]) is not list):
        return data
    level: list[object] = data
    for depth in range(len(shape) - 1):
        expected, inner = math.prod(shape[: depth + 1]), shape[depth + 1]
        if len(level) != expected or not all(type(x) is list and len(x) == inner for x in level):
            raise InvalidInput(
                f"{what}: data does not match shape {list(shape)} "
                "(give it flat, or nested exactly as the shape, with no ragged rows)"
            )
        level = list(chain.from_iterable(level))  # type: ignore[arg-type]
    if len(level) != total or (level and type(level[0]) is list):
        raise InvalidInput(f"{what}: data does not match shape {list(shape)}")
    return level


def _reject_non_numbers(values: list[object], what: str) -> None:
    kinds = set(map(type, values))
    if kinds <= {int, float}:
        return
    if bool in kinds:
        raise InvalidInput(f"{what}: true/false are not numbers")
    if str in kinds:
        raise InvalidInput(f'{what}: strings are not numbers (send 3, not "3")')
    if type(None) in kinds:
        raise InvalidInput(f"{what}: null is not a number")
    raise InvalidInput(f"{what}: every value must be a number")


def uint8_array(
    values: list[object], what: str, allow_fractions: bool = False, booleans: bool = True
) -> np.ndarray:
    """Pixels 0-255. `bytes()` converts and range-checks ints in C, far faster than numpy; it
    would take True as 1, so bools are ruled out first, unless the caller knows there are
    none (`booleans=False`)."""
    if booleans:
        _reject_non_numbers(values, what)
    try:
        return np.frombuffer(bytes(values), dtype=np.uint8)  # type: ignore[arg-type]
    except TypeError:
        _reject_non_numbers(values, what)  # names a string or null precisely; floats go on
    except ValueError:
        raise InvalidInput(f"{what}: pixel values must be within 0-255") from None
    array = np.asarray(values, dtype=np.float64)
    if not np.isfinite(array).all():
        raise InvalidInput(f"{what}: values must be finite numbers")
    if (array < 0).any() or (array > 255).any():
        raise InvalidInput(f"{what}: pixel values must be within 0-255")
    rounded = np.rint(array)
    if not allow_fractions and (rounded != array).any():
        raise InvalidInput(f"{what}: UINT8 values must be whole numbers")
    return rounded.astype(np.uint8)


def fp32_array(values: list[object], what: str) -> np.ndarray:
    _reject_non_numbers(values, what)
    array = np.asarray(values, dtype=np.float64)
    if not np.isfinite(array).all() or (np.abs(array) > FP32_MAX).any():
        raise InvalidInput(f"{what}: values must be finite numbers within FP32 range")
    return array.astype(np.float32)


def encode_bytes_tensor(items: list[bytes]) -> bytes:
    """BYTES elements on the wire: each a 4-byte little-endian length, then the bytes."""
    parts = []
    for item in items:
        parts.append(struct.pack("<I", len(item)))
        parts.append(item)
    return b"".join(parts)
