"""A response's head and its body in one send.

uvicorn writes the status line and headers when the app sends `http.response.start` and the
body when it sends `http.response.body`: two system calls for every small answer, about 12 µs
each on the development VM, where the whole of a v2 JSON prediction costs about 130 µs. The
transport a request's cycle is given (connections.py) holds the head until the body's write
joins it -- the same step of the same task, for every response the app makes whole -- or
until the loop's next turn when no body follows at once (a HEAD request, whose body uvicorn
never writes; a streamed report, whose first chunk may come later)."""

from __future__ import annotations

import asyncio
from typing import Any

# A body larger than this goes in a send of its own after the head: joining would copy it,
# which costs more than the second system call saves.
JOIN_BELOW = 64 * 1024


class HeadWithBody:
    """Wraps one request's transport: its first write (the head) waits for the next."""

    __slots__ = ("_transport", "_loop", "_held", "_first")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None
        self._first = True

    def write(self, data: bytes) -> None:
        if self._first:
            self._first = False
            self._held = data
            self._loop.call_soon(self.flush)
            return
        held = self._held
        if held is not None:
            self._held = None
            if len(data) < JOIN_BELOW:
                data = held + data
            else:
                self._transport.write(held)
        self._transport.write(data)

    def flush(self) -> None:
        held = self._held
        if held is not None:
            self._held = None
            if not self._transport.is_closing():
                self._transport.write(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:  # is_closing, get_extra_info, pause_reading...
        return getattr(self._transport, name)
