"""Logits to probabilities, numerically stable for logits of any size.

The course's point about `from_logits=True`: the model ends in a linear layer and the
probabilities are computed where they can be computed safely. Logits of +-1000 give clean
0s and 1s here, never NaN, never an overflow warning.
"""

from __future__ import annotations

import numpy as np


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax: subtracting each row's maximum keeps every exp() in (0, 1].

    The rows are reduced in column-major order: numpy reduces a short inner axis (10
    classes) one row at a time, far slower at large batches (BENCHMARKS.md, Process tuning).
    """
    columns = np.asfortranarray(logits)
    shifted = columns - columns.max(axis=1, keepdims=True)
    with np.errstate(under="ignore"):  # exp(-2000) is 0, which is the right answer
        np.exp(shifted, out=shifted)
    shifted /= shifted.sum(axis=1, keepdims=True)
    return np.ascontiguousarray(shifted)


def sigmoid(logits: np.ndarray) -> np.ndarray:
    """Element-wise sigmoid that only ever exponentiates non-positive numbers."""
    with np.errstate(under="ignore"):
        e = np.exp(-np.abs(logits))
    positive = 1 / (1 + e)  # sigmoid(|z|)
    probs: np.ndarray = np.where(logits >= 0, positive, e * positive)
    return probs.astype(logits.dtype, copy=False)
