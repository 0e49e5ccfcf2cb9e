"""A strict reader of MNIST's IDX files, plain or gzip, flat or laid out as torchvision does.

An IDX file is a 4-byte magic number (two zero bytes, a type code - 0x08 for unsigned bytes -
and the number of dimensions), one big-endian uint32 per dimension, then the data. Every check
here names the file, because "cannot reshape array of size 7839 into shape (10,28,28)" helps
nobody find the truncated download.
"""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.errors import DataError

UBYTE = 0x08
GZIP_MAGIC = b"\x1f\x8b"
IMAGE_SIZE = (28, 28)
NUM_CLASSES = 10


@dataclass(frozen=True)
class IdxPair:
    """The base names of one split's image and label files (``.gz`` is optional)."""

    images: str
    labels: str


TRAIN_FILES = IdxPair("train-images-idx3-ubyte", "train-labels-idx1-ubyte")
TEST_FILES = IdxPair("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def read_idx(path: Path, ndim: int) -> np.ndarray:
    """The unsigned-byte array stored in ``path``; ``DataError`` naming the file if malformed."""
    raw = _read_bytes(path)
    expected_magic = (UBYTE << 8) | ndim
    if len(raw) < 4:
        raise DataError(f"{path}: {len(raw)} bytes is too short for an IDX header")
    magic = int.from_bytes(raw[:4], "big")
    if magic != expected_magic:
        raise DataError(
            f"{path}: bad magic number 0x{magic:08x}, expected 0x{expected_magic:08x} "
            f"(an unsigned-byte IDX file with {ndim} dimension{'s' if ndim > 1 else ''})"
        )
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: truncated header ({len(raw)} of {header} bytes)")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    expected = math.prod(dims)
    found = len(raw) - header
    if found < expected:
        raise DataError(
            f"{path}: truncated: dimensions {dims} need {expected} data bytes, found {found}"
        )
    if found > expected:
        raise DataError(
            f"{path}: {found - expected} unexpected bytes after the {expected} that "
            f"dimensions {dims} describe"
        )
    # A copy: frombuffer over bytes is read-only, and torch refuses to wrap read-only arrays.
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims).copy()


def load_idx_split(folder: Path, files: IdxPair) -> tuple[np.ndarray, np.ndarray]:
    """Images (n, 28, 28) uint8 and labels (n,) int64 of one split, cross-checked."""
    images_path = find_idx_file(folder, files.images)
    labels_path = find_idx_file(folder, files.labels)
    images = read_idx(images_path, ndim=3)
    labels = read_idx(labels_path, ndim=1)
    if images.shape[1:] != IMAGE_SIZE:
        raise DataError(
            f"{images_path}: images are {images.shape[1]}x{images.shape[2]}, expected 28x28"
        )
    if len(images) != len(labels):
        raise DataError(
            f"{images_path} holds {len(images)} images but {labels_path} holds {len(labels)} labels"
        )
    if len(labels) and labels.max() >= NUM_CLASSES:
        raise DataError(f"{labels_path}: label {labels.max()} is not a digit 0-9")
    return images, labels.astype(np.int64)


def find_idx_file(folder: Path, base: str) -> Path:
    """``base`` or ``base.gz`` in ``folder`` or in torchvision's ``folder/MNIST/raw``."""
    if not folder.is_dir():
        raise DataError(f"data folder {folder} does not exist or is not a folder")
    places = [folder, folder / "MNIST" / "raw", folder / "raw"]
    candidates = [place / name for place in places for name in (base, base + ".gz")]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    looked = ", ".join(str(c) for c in candidates[:2])
    raise DataError(
        f"no {base}[.gz] in data folder {folder} (looked for {looked}, and under MNIST/raw/)"
    )


def _read_bytes(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise DataError(f"{path}: cannot read: {error.strerror or error}") from error
    # Decide by content, not by name: some mirrors serve gzip files without the suffix.
    if not raw.startswith(GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as error:
        raise DataError(f"{path}: corrupt or truncated gzip data: {error}") from error
