"""Client numbers to numpy arrays, strictly, with no per-element Python on the common paths.

JSON has no types finer than "number", and a lenient converter lets `true`, `"3"`, `"nan"`
and `1e999` through as numbers. Here a number is an int or a float (never a bool, never a
string), finite, and within the range of the datatype; anything else is an InvalidInput
that names the problem.
"""

from __future__ import annotations

import math
from itertools import chain

import numpy as np

from service.errors import InvalidInput, PayloadTooLarge, describe

# The Open Inference Protocol's datatypes and their numpy equivalents (BYTES: strings).
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
    "BYTES": np.dtype(np.object_),
}

FP32_MAX = float(np.finfo(np.float32).max)


def check_shape(shape: object, what: str, max_elements: int) -> tuple[int, ...]:
    """A client-declared shape: a list of non-negative ints, not too many elements."""
    if not isinstance(shape, list) or not shape or len(shape) > 8:
        raise InvalidInput(f"{what}: shape must be a list of 1 to 8 non-negative integers")
    for dim in shape:
        if type(dim) is not int or dim < 0:
            raise InvalidInput(f"{what}: shape must be a list of 1 to 8 non-negative integers")
    total = math.prod(shape)
    if total > max_elements:
        raise PayloadTooLarge(f"{what}: shape {shape} holds more elements than the limit allows")
    return tuple(shape)


def flatten(data: object, shape: tuple[int, ...], what: str) -> list[object]:
    """JSON tensor data, flat or nested as `shape`, as one flat list (row-major)."""
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


_SHORT_TEXT = 2048


def may_hold_booleans(body: bytes) -> bool:
    """Whether a JSON text could contain true/false: without those words, it holds no bools."""
    return _holds(body, b"true") or _holds(body, b"false")


def _holds(text: bytes, word: bytes) -> bool:
    # `word in text` costs ~0.7 ns a byte on the server CPUs measured; finding one letter
    # (memchr) ~40x less. So hop from one first letter to the next, a bounded number of
    # times, and leave a text full of that letter to the plain search. A short text (a
    # binary request's JSON header) is searched at once: there, the hops cost more.
    if len(text) <= _SHORT_TEXT:
        return word in text
    first = word[:1]
    at = text.find(first)
    for _ in range(64):
        if at < 0:
            return False
        if text.startswith(word, at):
            return True
        at = text.find(first, at + 1)
    return word in text[at:]


def uint8_array(
    values: list[object], what: str, allow_fractions: bool = False, booleans: bool = True
) -> np.ndarray:
    """Pixels 0-255. `bytes()` converts and range-checks ints in C, ~10x faster than numpy;
    it would take True as 1, so bools are ruled out first, unless the caller knows the JSON
    text had none (`booleans=False`), which saves a pass over every value."""
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


def from_whole_numbers(values: np.ndarray, datatype: str, what: str) -> np.ndarray:
    """Whole numbers already parsed from the JSON text (see api/numbers.py)."""
    if datatype == "UINT8":
        if values.size and int(values.max()) > 255:
            raise InvalidInput(f"{what}: pixel values must be within 0-255")
        return values.astype(np.uint8)
    if datatype == "FP32":
        return values.astype(np.float32)
    raise InvalidInput(f"{what}: unsupported datatype {describe(datatype)}")


def from_json(values: list[object], datatype: str, what: str, booleans: bool = True) -> np.ndarray:
    """A flat JSON list as a 1-D array of the model's datatype (UINT8 or FP32)."""
    if datatype == "UINT8":
        return uint8_array(values, what, booleans=booleans)
    if datatype == "FP32":
        return fp32_array(values, what)
    raise InvalidInput(f"{what}: unsupported datatype {describe(datatype)}")


def check_finite_fp32(array: np.ndarray, what: str) -> None:
    if array.dtype == np.float32 and not np.isfinite(array).all():
        raise InvalidInput(f"{what}: values must be finite (no NaN or Infinity)")
