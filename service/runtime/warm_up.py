"""The batches a version runs once before it serves, the same in the server and in the load
check's own process (load_check.py): numpy only, so that process starts quickly."""

from __future__ import annotations

import numpy as np

# The input datatypes a manifest may declare (modelrepo/manifest.py), as numpy's.
INPUT_DTYPES: dict[str, np.dtype] = {"UINT8": np.dtype(np.uint8), "FP32": np.dtype(np.float32)}


def sample_rows(
    datatype: str, row_shape: tuple[int, ...], rows: int, seed: int = 0, *, pixels: bool = False
) -> np.ndarray:
    """Random rows in the declared input's range: pixels 0-255 (as uint8, or as floats for a
    graph that takes them so), or features in [0, 1)."""
    rng = np.random.default_rng(seed)
    shape = (rows, *row_shape)
    if datatype == "UINT8":
        return rng.integers(0, 256, shape, dtype=np.uint8)
    if pixels:
        return rng.integers(0, 256, shape).astype(np.float32)
    return rng.random(shape, dtype=np.float32)


def batches(
    datatype: str, row_shape: tuple[int, ...], *, pixels: bool = False
) -> list[tuple[str, np.ndarray]]:
    """(what, rows): zeros, the top of the range, random rows in the declared range. Zeros
    alone miss graphs that break only on other inputs. `pixels`: an image input (0-255 even
    when the graph takes floats)."""
    dtype = INPUT_DTYPES[datatype]
    top_of_range = pixels or datatype == "UINT8"
    top, what = (255, "rows of 255s") if top_of_range else (1, "rows of ones")
    return [
        ("rows of zeros", np.zeros((2, *row_shape), dtype=dtype)),
        (what, np.full((2, *row_shape), top, dtype=dtype)),
        ("random rows in the declared range", sample_rows(datatype, row_shape, 8, pixels=pixels)),
    ]
