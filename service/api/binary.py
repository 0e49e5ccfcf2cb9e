"""Triton's binary tensor data extension: a JSON header of `Inference-Header-Content-Length`
bytes, then the raw tensors back to back, in the order of the tensors that declare a
`binary_data_size`."""

from __future__ import annotations

from service.api.numbers import ascii_integer
from service.errors import InvalidInput

HEADER = "inference-header-content-length"


def split(body: bytes, header_length: str | None) -> tuple[bytes, memoryview | None]:
    """(JSON header, binary part or None) of a request body; the binary part is not copied."""
    if header_length is None:
        return body, None
    length = ascii_integer(header_length.strip(), max_digits=12)
    if length is None:
        raise InvalidInput("Inference-Header-Content-Length must be a non-negative integer")
    if length == 0 or length > len(body):
        raise InvalidInput(
            f"Inference-Header-Content-Length is {length} but the body has {len(body)} bytes"
        )
    return body[:length], memoryview(body)[length:]
