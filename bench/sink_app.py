"""The ceiling of HTTP on this machine: a raw ASGI app on uvicorn (uvloop, httptools) that
reads the whole body and sends a small constant reply. No framework, no parsing, no model:
whatever a request costs here, every Python server on uvicorn pays too."""

from __future__ import annotations

from typing import Any

REPLY = b'{"outputs":[]}'


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["path"] != "/v2/models/mnist/infer":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})
        return
    chunks, more = [], True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    b"".join(chunks)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": REPLY})
