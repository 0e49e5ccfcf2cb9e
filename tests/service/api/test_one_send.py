"""A response's head and its body leave in one send when the body follows at once, and the
head alone on the loop's next turn when it does not (HEAD, a body that comes later)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.api import connections
from service.api.one_send import JOIN_BELOW, HeadWithBody
from tests.servers import running


class Transport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str) -> str:
        return f"info:{name}"


def test_head_and_body_written_in_the_same_turn_go_as_one() -> None:
    async def main() -> list[bytes]:
        raw = Transport()
        out = HeadWithBody(raw, asyncio.get_running_loop())  # type: ignore[arg-type]
        out.write(b"HTTP/1.1 200 OK\r\n\r\n")
        out.write(b"{}")
        out.write(b"more")
        await asyncio.sleep(0)
        return raw.writes

    assert asyncio.run(main()) == [b"HTTP/1.1 200 OK\r\n\r\n{}", b"more"]


def test_a_large_body_is_not_copied_to_join_its_head() -> None:
    async def main() -> list[bytes]:
        raw = Transport()
        out = HeadWithBody(raw, asyncio.get_running_loop())  # type: ignore[arg-type]
        out.write(b"head")
        out.write(b"x" * JOIN_BELOW)
        return raw.writes

    assert [len(w) for w in asyncio.run(main())] == [4, JOIN_BELOW]


def test_a_head_without_a_body_goes_on_the_next_turn_and_a_late_body_after_it() -> None:
    async def main() -> tuple[list[bytes], list[bytes]]:
        raw = Transport()
        out = HeadWithBody(raw, asyncio.get_running_loop())  # type: ignore[arg-type]
        out.write(b"HEAD-ANSWER")
        held = list(raw.writes)
        await asyncio.sleep(0)
        out.write(b"late body")
        return held, raw.writes

    held, writes = asyncio.run(main())
    assert held == [] and writes == [b"HEAD-ANSWER", b"late body"]


def test_closing_writes_the_held_head_first_and_a_closed_connection_gets_nothing() -> None:
    async def main() -> tuple[Transport, Transport]:
        loop = asyncio.get_running_loop()
        first, second = Transport(), Transport()
        out = HeadWithBody(first, loop)  # type: ignore[arg-type]
        out.write(b"head")
        out.close()
        gone = HeadWithBody(second, loop)  # type: ignore[arg-type]
        gone.write(b"head")
        second.closed = True  # the client went away meanwhile
        await asyncio.sleep(0)
        return first, second

    first, second = asyncio.run(main())
    assert first.writes == [b"head"] and first.closed
    assert second.writes == []
    assert HeadWithBody(Transport(), None).get_extra_info("peername") == "info:peername"  # type: ignore[arg-type]


@pytest.fixture
def sends(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """How many writes each request's transport made."""
    counts: list[int] = []

    class Counted(HeadWithBody):
        __slots__ = ()

        def __init__(self, transport: Any, loop: Any) -> None:
            counts.append(0)
            index = len(counts) - 1
            real = transport.write

            class Raw:
                def write(self, data: bytes) -> None:
                    counts[index] += 1
                    real(data)

                def __getattr__(self, name: str) -> Any:
                    return getattr(transport, name)

            super().__init__(Raw(), loop)  # type: ignore[arg-type]

    monkeypatch.setattr(connections, "HeadWithBody", Counted)
    yield counts


def test_through_the_server_a_prediction_is_one_send_and_head_and_reports_still_whole(
    shipped_models: Path, sends: list[int]
) -> None:
    with running(shipped_models, reload_interval_s=0) as srv, httpx.Client(base_url=srv.url) as c:
        r = c.post("/v1/models/tshirt/predict", json={"instances": [[20, 5, 3, 7]]})
        assert r.status_code == 200 and r.json()["predictions"]
        assert sends == [1]
        head = c.head("/v2/health/live")
        assert head.status_code == 200 and head.content == b""
        report = c.get("/v1/models/mnist/versions/1/report/README.md")  # streamed from disk
        assert report.status_code == 200 and len(report.content) > 100
        assert c.get("/v2/health/live").status_code == 200  # the connection still in step
