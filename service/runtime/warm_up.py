"""The batches a version runs once before it serves, the same in the server and in the load
check's own process (load_check.py): numpy only, so that process starts quickly."""

from __future__ import annotations

import numpy as np

# The input datatypes a manifest may declare (modelrepo/manifest.py), as numpy's.
INPUT_DTYPES: dict[str, np.dtype] = {"UINT8": np.dtype(np.uint8), "FP32": np.dtype(np.float32)}


def sample_rows(datatype: str, row_shape: tuple[int, ...], rows: int, seed: int = 0) -> np.ndarray:
    """Random rows in the declared input's range: pixels 0-255, or features in [0, 1)."""
    rng = np.random.default_rng(seed)
    shape = (rows, *row_shape)
    if datatype == "UINT8":
        return rng.integers(0, 256, shape, dtype=np.uint8)
    return rng.random(shape, dtype=np.float32)


def batches(datatype: str, row_shape: tuple[int, ...]) -> list[tuple[str, np.ndarray]]:
    """(what, rows): zeros, the top of the range, random rows in the declared range. Zeros
    alone miss graphs that break only on other inputs."""
    dtype = INPUT_DTYPES[datatype]
    top, what = (255, "rows of 255s") if datatype == "UINT8" else (1, "rows of ones")
    return [
        ("rows of zeros", np.zeros((2, *row_shape), dtype=dtype)),
        (what, np.full((2, *row_shape), top, dtype=dtype)),
        ("random rows in the declared range", sample_rows(datatype, row_shape, 8)),
    ]
