"""Held-out data for `logitserve publish --eval`: an .npz with arrays `x` (rows as clients
send them) and `y` (the truths), read within bounds and checked before any metric is made of
it, each problem in one line.

Read without trusting the file: each array's zip entry is checked against a size bound by the
size it declares (a 285 KB .npz can inflate to gigabytes), and its .npy header (shape and
dtype, before any data) against the model, so a header declaring 10**12 rows or a 0-d array
costs nothing. Arrays of Python objects are refused, never built. Truths must be class
indices the model has (or 0/1 per label): a NaN or out-of-range truth would be scored as a
wrong answer, and the promotion gate would trust the accuracy made of it.
"""

from __future__ import annotations

import math
import zipfile
from pathlib import Path

import numpy as np

from modelrepo.manifest import Manifest
from modelrepo.publish import PublishError

MAX_ROWS = 1_000_000
MAX_ARRAY_BYTES = 512 * 1024 * 1024
MAX_HEADER_BYTES = 10_000  # numpy's own default
# x may come as any numeric type (people save float images, int64 pixels).
NUMERIC = "biuf"


def read(path: Path, manifest: Manifest) -> tuple[np.ndarray, np.ndarray]:
    """Inputs `x`, shaped as the model takes them, and truths `y`; PublishError otherwise."""
    try:
        with zipfile.ZipFile(path) as archive:
            x_shape, _ = _header(archive, "x")
            y_shape, _ = _header(archive, "y")
            _check_shapes(x_shape, y_shape, manifest)
            x, y = _array(archive, "x"), _array(archive, "y")
    except PublishError as error:
        raise PublishError(f"{path.name}: {error}") from None
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise PublishError(
            f"cannot read held-out data from {path.name}: {first} (an .npz with arrays x and y)"
        ) from None
    try:
        return _inputs(x, manifest), _truths(y, manifest)
    except PublishError as error:
        raise PublishError(f"{path.name}: {error}") from None


def _header(archive: zipfile.ZipFile, name: str) -> tuple[tuple[int, ...], np.dtype]:
    """The array's shape and dtype from its .npy header, its entry's size checked first."""
    info = archive.getinfo(f"{name}.npy")
    if info.file_size > MAX_ARRAY_BYTES + MAX_HEADER_BYTES:
        raise PublishError(
            f"{name} takes {info.file_size} bytes unpacked, more than {MAX_ARRAY_BYTES}"
        )
    with archive.open(info) as member:
        version = np.lib.format.read_magic(member)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(member, MAX_HEADER_BYTES)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(member, MAX_HEADER_BYTES)
        else:
            raise PublishError(f"{name} is an .npy of version {version}: save it with numpy")
    if dtype.hasobject or dtype.kind not in NUMERIC:
        raise PublishError(f"{name} holds {dtype}: give numbers")
    if len(shape) == 0:
        raise PublishError(f"{name} is a single value (a 0-d array): give one row per example")
    if math.prod(shape) * dtype.itemsize > MAX_ARRAY_BYTES:
        raise PublishError(
            f"{name} declares shape {list(shape)}: more than {MAX_ARRAY_BYTES} bytes"
        )
    return shape, dtype


def _check_shapes(x: tuple[int, ...], y: tuple[int, ...], manifest: Manifest) -> None:
    spec = manifest.input
    rows = x[0]
    if rows == 0 or rows > MAX_ROWS:
        raise PublishError(f"x has {rows} rows: give 1 to {MAX_ROWS}")
    if math.prod(x[1:]) != spec.row_size:
        raise PublishError(
            f"x has shape {list(x)}: each row must have {spec.row_size} values "
            f"({spec.describe_row()})"
        )
    width = len(manifest.labels)
    wanted = (rows, width) if manifest.task == "multilabel" else (rows,)
    if y != wanted and not (manifest.task != "multilabel" and y == (rows, 1)):
        what = f"{rows} rows of {width} 0/1 values" if len(wanted) == 2 else f"{rows} class indices"
        raise PublishError(f"y has shape {list(y)}: give {what}, one per row of x")


def _array(archive: zipfile.ZipFile, name: str) -> np.ndarray:
    """The array's data (its header checked already): never an array of Python objects."""
    with archive.open(f"{name}.npy") as member:
        # numpy's default refuses arrays of objects (the service never builds one).
        return np.lib.format.read_array(member, max_header_size=MAX_HEADER_BYTES)


def _inputs(x: np.ndarray, manifest: Manifest) -> np.ndarray:
    spec = manifest.input
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        raise PublishError("x holds NaN or infinite values")
    if spec.datatype == "UINT8":
        if x.size and (x.min() < 0 or x.max() > 255):
            raise PublishError("x holds values outside 0-255: the model takes pixels")
        # Fractional pixels (a float image) are rounded, as the service rounds them.
        x = np.rint(x) if x.dtype.kind == "f" else x
    dtype = np.uint8 if spec.datatype == "UINT8" else np.float32
    return x.reshape(len(x), *spec.row_shape).astype(dtype)


def _truths(y: np.ndarray, manifest: Manifest) -> np.ndarray:
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        raise PublishError("y holds NaN or infinite values: give class indices")
    if y.size and not np.array_equal(y, np.round(y)):
        raise PublishError("y holds fractions: give whole class indices")
    truths = y.astype(np.int64).reshape(len(y), -1)
    if manifest.task == "multiclass":
        classes = manifest.output.width
        if truths.min() < 0 or truths.max() >= classes:
            raise PublishError(
                f"y holds {int(truths.min())}..{int(truths.max())}: classes are 0 to {classes - 1}"
            )
        return truths.reshape(-1)
    if truths.min() < 0 or truths.max() > 1:
        raise PublishError("y holds values other than 0 and 1")
    return truths.reshape(-1) if manifest.task == "binary" else truths
