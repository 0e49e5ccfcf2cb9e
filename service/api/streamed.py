"""A response whose body is streamed from a source that must be closed however the sending
ends: sent whole, cut short by an error, or abandoned by a client that went away (Starlette
then cancels the sending, which may leave the body's iterator suspended, never finished)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Protocol

from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send


class Source(Protocol):
    size: int

    def chunks(self) -> AsyncIterator[bytes]: ...

    def close(self) -> None: ...


class StreamedResponse(StreamingResponse):
    def __init__(self, source: Source, media_type: str, headers: Mapping[str, str]) -> None:
        super().__init__(
            source.chunks(),
            media_type=media_type,
            headers={**headers, "Content-Length": str(source.size)},
        )
        self._source = source

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._source.close()
