"""`python -m bench.in_process`: what the service's own Python costs per request, without
HTTP. The ASGI app runs in this process, driven by concurrent clients that post the same
body (no sockets, no uvicorn); it prints CPU microseconds per request for the whole app,
and with the model call replaced by one cached result: the rest is parsing, validation,
the response and metrics. What uvicorn adds is the HTTP bench's ceiling row. Run it pinned
to one core (`taskset -c 0`), and compare figures of one run only."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from bench import payloads
from service.app import create_app
from service.handlers.dataplane import DataPlane, Scored
from service.runtime.loaded_model import LoadedModel
from service.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
# name: (path, concurrent clients), as in the HTTP bench
SCENARIOS = {
    "v2_single": ("/v2/models/mnist/infer", 32),
    "v2_batch64": ("/v2/models/mnist/infer", 8),
    "v2_binary64": ("/v2/models/mnist/infer", 8),
    "v2_binary1024": ("/v2/models/mnist/infer", 8),
    "v1_single": ("/v1/models/mnist/predict", 32),
}


@contextlib.contextmanager
def cached_scores() -> Iterator[None]:
    """Every request gets the first request's result, without calling the model: the data
    plane's one way to a model, for v1 and v2 alike, answers from a cache."""
    real = DataPlane._score
    cache: dict[int, Scored] = {}

    async def cached(self: DataPlane, model: LoadedModel, rows: np.ndarray) -> Scored:
        if len(rows) not in cache:
            cache[len(rows)] = await real(self, model, rows)
        return cache[len(rows)]

    DataPlane._score = cached  # type: ignore[method-assign]
    try:
        yield
    finally:
        DataPlane._score = real  # type: ignore[method-assign]


@contextlib.asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[None]:
    """The app started (models loaded) and, on leaving, shut down, as a server would."""
    inbox: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    scope = {"type": "lifespan", "asgi": {"version": "3.0"}}
    task = asyncio.create_task(app(scope, inbox.get, outbox.put))
    await inbox.put({"type": "lifespan.startup"})
    if (await outbox.get())["type"] != "lifespan.startup.complete":
        raise RuntimeError("the app did not start")
    try:
        yield
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        await outbox.get()
        await task


def post_scope(path: str, raw_headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    """The ASGI scope of a POST to `path` over HTTP/1.1 from a loopback client."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": raw_headers,
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 2),
    }


async def per_request_us(
    app: Any, path: str, body: bytes, headers: dict[str, str], clients: int, requests: int
) -> float:
    """CPU microseconds per request, `clients` posting `requests` in all, concurrently."""
    raw_headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    raw_headers.append((b"content-length", str(len(body)).encode()))
    statuses: set[int] = set()

    async def one() -> None:
        scope = post_scope(path, raw_headers)
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                await asyncio.Event().wait()  # a client that never disconnects
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                statuses.add(message["status"])

        await app(scope, receive, send)

    async def client(n: int) -> None:
        for _ in range(n):
            await one()

    started = time.process_time()
    await asyncio.gather(*(client(requests // clients) for _ in range(clients)))
    if statuses != {200}:
        raise RuntimeError(f"{path} answered {sorted(statuses)}")
    return (time.process_time() - started) / (requests // clients * clients) * 1e6


async def run(models_dir: Path, requests: int, rounds: int) -> list[str]:
    app = create_app(
        Settings(models_dir=models_dir, access_log=False, reload_interval_s=0, grpc_port=0)
    )
    bodies = payloads.bodies()
    lines = [
        "| scenario | clients | whole app, us/request | without the model call | model call |",
        "|---|---|---|---|---|",
    ]
    async with lifespan(app):
        for name, (path, clients) in SCENARIOS.items():
            body, headers = bodies[name]
            n = max(clients * 4, requests // (16 if "1024" in name else 1))
            whole, rest = [], []
            await per_request_us(app, path, body, headers, clients, n // 4)  # warm-up
            for _ in range(rounds):  # interleaved: this VM's speed drifts
                whole.append(await per_request_us(app, path, body, headers, clients, n))
                with cached_scores():
                    rest.append(await per_request_us(app, path, body, headers, clients, n))
            w, r = statistics.median(whole), statistics.median(rest)
            lines.append(f"| {name} | {clients} | {w:,.1f} | {r:,.1f} | {w - r:,.1f} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.in_process", description=__doc__)
    parser.add_argument("--models-dir", type=Path, default=ROOT / "models")
    parser.add_argument("--requests", type=int, default=3200, help="per scenario and round")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds; medians")
    args = parser.parse_args()
    try:
        import uvloop

        lines = uvloop.run(run(args.models_dir, args.requests, args.rounds))
    except ImportError:
        lines = asyncio.run(run(args.models_dir, args.requests, args.rounds))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
