"""Large JSON arrays of whole numbers, parsed with numpy instead of one Python object each.

An inference request of 64 MNIST images is 50,000 numbers: as Python ints (orjson) they cost
more to make, check and convert than the rest of the request (BENCHMARKS.md, What bounds
JSON batches). Here, the `"data": [...]` arrays are cut out of the body and parsed as bytes,
a few vectorised passes over the text; the small rest goes through orjson as usual.

Only the plainest arrays take this path: flat lists of whole numbers of one to three digits
(pixels), commas and a blank or two. Anything else -- nesting, signs, fractions, exponents, a
value that is not a number, anything malformed -- makes `loads` return the document from
orjson instead, so every error is reported by the one general path.

`may_hold_booleans` looks for `true`/`false` in the text: without them, the strict reading
of the numbers can skip its pass that rules out bools.
"""

from __future__ import annotations

import math
import os
import re
from typing import Any

import numpy as np
import orjson

_DATA = re.compile(rb'"data"\s*:\s*\[')
_MIN_BYTES = 4096  # below this orjson is as fast, and simpler
_MAX_CUTS = 16
# A random marker per process: a client cannot forge one to smuggle an array in.
_MARK = "\x00logitserve-" + os.urandom(8).hex() + "-"


def ascii_integer(text: str, max_digits: int = 18) -> int | None:
    """`text` as a non-negative integer in ASCII digits, or None. (`str.isdigit` accepts
    '²' and other Unicode digits that `int` refuses or reads differently.)"""
    if text.isascii() and text.isdigit() and len(text) <= max_digits:
        return int(text)
    return None


_ASCII_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]{1,3})?|\.[0-9]+")


def ascii_number(text: str) -> float | None:
    """`text` as a non-negative decimal number in ASCII (`0.5`, `.5`, `5e-1`), or None.
    (`float` also reads '٠.٥', 'nan', 'inf', '1_0' and blanks around the number.)"""
    if len(text) <= 64 and _ASCII_NUMBER.fullmatch(text):
        value = float(text)
        return value if math.isfinite(value) else None
    return None


def loads(body: bytes) -> Any:
    """Like orjson.loads, with each large inputs[i].data array as a uint16 numpy array."""
    if len(body) >= _MIN_BYTES:
        doc = _loads_cut(body)
        if doc is not None:
            return doc
    return orjson.loads(body)


def _loads_cut(body: bytes) -> Any:
    pieces: list[bytes] = []
    arrays: list[np.ndarray] = []
    last = 0
    # Search on from the end of each array cut: the numbers are not worth scanning twice.
    while (match := _DATA.search(body, last)) is not None:
        if len(arrays) == _MAX_CUTS:
            # A request has a few tensors; a body with many "data" keys (300,000 tiny ones
            # fit in a 7.6 KB gzip) would cost a cut each: orjson reads those at its pace.
            return None
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
    # Blanks around it: every digit has two neighbours to look at before it, one after.
    b = np.frombuffer(b"  " + stripped + b" ", dtype=np.uint8)
    d = b - 48  # wraps around below '0', so d < 10 means a digit
    x = d < 10
    c = b == 44
    w = b == 32
    n_commas = np.count_nonzero(c)
    if np.count_nonzero(x) + n_commas + np.count_nonzero(w) != len(b):
        w = ~(x | c)
        if np.count_nonzero(w) != sum(np.count_nonzero(b == ch) for ch in b" \t\r\n"):
            return None  # something other than digits, commas and blanks
    # One to three digits (four is no pixel), and no leading zero (JSON forbids them).
    if (x[:-3] & x[1:-2] & x[2:-1] & x[3:]).any() or (~x[:-2] & (d[1:-1] == 0) & x[2:]).any():
        return None
    # At most two blanks in a row (pretty-printed JSON takes the general path), and never
    # only blanks between two numbers.
    if (w[:-2] & w[1:-1] & w[2:]).any():
        return None
    if (x[:-3] & w[1:-2] & (x[2:-1] | (w[2:-1] & x[3:]))).any():
        return None
    ends = np.flatnonzero(x[:-1] & ~x[1:])  # the last digit of each number
    # Every gap between two numbers holds a comma (checked above); with one comma fewer
    # than numbers, each holds exactly one, so none is empty ("1,,2").
    if len(ends) != n_commas + 1:
        return None
    # What each position would be worth as the last digit of a number, then those
    # positions. A hundreds digit counts only with a tens digit after it ("5,3" is not 503).
    digits = d * x
    value = (digits[:-2] * x[1:-1]).astype(np.uint16)
    value *= 10
    value += digits[1:-1]
    value *= 10
    value += digits[2:]
    return value.take(ends - 2)


_SHORT_TEXT = 2048


def may_hold_booleans(text: bytes) -> bool:
    """Whether a JSON text could contain true/false: without those words, it holds no bools."""
    return _holds(text, b"true") or _holds(text, b"false")


def _holds(text: bytes, word: bytes) -> bool:
    # Finding one letter (memchr) is far cheaper than a plain search for the word, so hop from
    # one first letter to the next, a bounded number of times (BENCHMARKS.md, What bounds JSON
    # batches). A short text (a binary request's JSON header) is searched at once.
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
