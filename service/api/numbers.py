"""Large JSON arrays of whole numbers, parsed with numpy instead of one Python object each.

An inference request of 64 MNIST images is 50,000 numbers. orjson turns them into 50,000
Python ints (about 1 ms here), and checking and converting those takes longer still. Here,
the `"data": [...]` arrays are cut out of the body and parsed as bytes, a few vectorised
passes over the text; the small rest goes through orjson as usual.

Only the plainest arrays take this path: flat lists of whole numbers of one to three digits
(pixels), commas and single blanks. Anything else -- nesting, signs, fractions, exponents, a
value that is not a number, anything malformed -- makes `loads` return the document from
orjson instead, so every error is reported by the one general path.
"""

from __future__ import annotations

import os
import re
from typing import Any

import numpy as np
import orjson

_DATA = re.compile(rb'"data"\s*:\s*\[')
_MIN_BYTES = 4096  # below this orjson is as fast, and simpler
# A random marker per process: a client cannot forge one to smuggle an array in.
_MARK = "\x00logitserve-" + os.urandom(8).hex() + "-"


def loads(body: bytes) -> Any:
    """Like orjson.loads, with each large inputs[i].data array as an int64 numpy array."""
    if len(body) >= _MIN_BYTES:
        doc = _loads_cut(body)
        if doc is not None:
            return doc
    return orjson.loads(body)


def _loads_cut(body: bytes) -> Any:
    pieces: list[bytes] = []
    arrays: list[np.ndarray] = []
    last = 0
    # Search on from the end of each array cut: rescanning the numbers costs ~0.5 ns a byte.
    while (match := _DATA.search(body, last)) is not None:
        start = match.end()
        end = body.find(b"]", start)
        if end < 0 or body.find(b"[", start, end) >= 0:
            return None  # nested or malformed: the general path decides
        values = _whole_numbers(body[start:end])
        if values is None:
            return None
        pieces += [body[last : start - 1], orjson.dumps(f"{_MARK}{len(arrays)}")]
        arrays.append(values)
        last = end + 1
    if not arrays:
        return None
    pieces.append(body[last:])
    try:
        doc = orjson.loads(b"".join(pieces))
    except orjson.JSONDecodeError:
        return None
    # Each cut must come back exactly where an input's data was, or the cut was not what it
    # seemed (inside a string, under another key): then parse the original body instead.
    inputs = doc.get("inputs") if type(doc) is dict else None
    if type(inputs) is not list:
        return None
    found = 0
    for tensor in inputs:
        data = tensor.get("data") if type(tensor) is dict else None
        if type(data) is str and data.startswith(_MARK):
            tensor["data"] = arrays[int(data[len(_MARK) :])]
            found += 1
    return doc if found == len(arrays) else None


def _whole_numbers(text: bytes) -> np.ndarray | None:
    """'12, 0,255' -> [12, 0, 255], or None unless the text is exactly such a JSON list."""
    stripped = text.strip(b" \t\r\n")
    if not stripped or not (48 <= stripped[0] <= 57 and 48 <= stripped[-1] <= 57):
        return None
    # Two spaces in front: every digit has two left neighbours to look at.
    b = np.frombuffer(b"  " + stripped, dtype=np.uint8)
    d = b - 48  # wraps around below '0', so d < 10 means a digit
    x = d < 10
    c = b == 44
    w = ~(x | c)  # everything else must be whitespace
    n_ws = np.count_nonzero(w)
    if n_ws > 2:
        blanks = sum(np.count_nonzero(b == ch) for ch in b" \n\r\t")
        if blanks != n_ws:
            return None
        # At most two blanks in a row ("1, 2", "1 , 2"); pretty-printed JSON takes the
        # general path. So a neighbour is never more than three places away:
        if (w[2:-2] & w[3:-1] & w[4:]).any():
            return None
        # no two numbers with only blanks between them, no two commas with nothing between.
        if (x[:-2] & w[1:-1] & x[2:]).any() or (x[:-3] & w[1:-2] & w[2:-1] & x[3:]).any():
            return None
        if (c[:-2] & w[1:-1] & c[2:]).any() or (c[:-3] & w[1:-2] & w[2:-1] & c[3:]).any():
            return None
    # Adjacent commas, or a number of four digits or more (not a pixel): the general path.
    if (c[:-1] & c[1:]).any() or (x[:-3] & x[1:-2] & x[2:-1] & x[3:]).any():
        return None
    # No leading zeros (JSON forbids them): a number's first digit is 0 only if it is alone.
    if (x[2:-1] & ~x[1:-2] & (b[2:-1] == 48) & x[3:]).any():
        return None
    # The value each position would have as the last digit of a number, then those positions.
    digits = d.astype(np.int16)
    digits *= x
    value = digits[2:] + 10 * digits[1:-1] + 100 * (digits[:-2] * x[1:-1])
    last = x[2:].copy()
    last[:-1] &= ~x[3:]
    return value.take(np.flatnonzero(last))
