"""Request ids: the client's X-Request-ID when it is safe to echo and log, else a new one.

A v2 request's body `id` becomes the request id too, when the client sent no header and the
id passes the same pattern (`RequestContext.adopt`)."""

from __future__ import annotations

import itertools
import os
import re

# Safe in a header, a log line and a metric: no blanks, no quotes, no control characters.
PATTERN = r"[A-Za-z0-9._:-]{1,128}"
_SAFE_TEXT = re.compile(PATTERN)
_SAFE_BYTES = re.compile(PATTERN.encode())


def is_safe(request_id: str) -> bool:
    return _SAFE_TEXT.fullmatch(request_id) is not None


class RequestIds:
    """New ids: a random prefix per process and a counter, unique without a syscall each."""

    def __init__(self) -> None:
        self._prefix = os.urandom(4).hex()
        self._counter = itertools.count()

    def new(self) -> str:
        return f"{self._prefix}{next(self._counter):08x}"

    def choose(self, given: bytes | None) -> tuple[str, bool]:
        """(the request id, whether it is the client's) for an X-Request-ID header or None."""
        if given is not None and _SAFE_BYTES.fullmatch(given):
            return given.decode(), True
        return self.new(), False
