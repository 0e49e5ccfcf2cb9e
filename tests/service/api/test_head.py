"""HEAD on every GET route answers as GET would, without the body: monitors and load
balancers probe with HEAD (`curl -I /v2/health/ready` answered 405). Keys, limits and the
access record apply to it as to the GET."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.servers import RunningServer, access_logging, running

KEY = "a-key-for-the-head-tests-0123"


@pytest.fixture(scope="module")
def server(shipped_models: Path) -> Iterator[RunningServer]:
    with running(shipped_models, reload_interval_s=0, api_keys=[KEY]) as srv:
        yield srv


def get_routes(server: RunningServer) -> list[str]:
    """Every GET route of the OpenAPI document with its parameters filled in, and the pages
    outside it."""
    document = httpx.get(server.url + "/openapi.json").json()
    filled = {"name": "mnist", "version": "1", "file": "README.md"}
    paths = [
        re.sub(r"\{(\w+)\}", lambda m: filled[m.group(1)], path)
        for path, operations in document["paths"].items()
        if "get" in operations
    ]
    return [*paths, "/", "/docs", "/openapi.json"]


def test_head_on_every_get_route_is_the_get_without_its_body(server: RunningServer) -> None:
    routes = get_routes(server)
    assert len(routes) > 15 and "/v2/health/ready" in routes
    with httpx.Client(base_url=server.url) as client:
        for path in routes:
            got, head = client.get(path), client.head(path)
            assert head.status_code == got.status_code == 200, (path, head.status_code)
            assert head.content == b"", path
            assert head.headers["content-type"] == got.headers["content-type"], path
            if path != "/metrics":  # its figures move between the two requests
                assert head.headers["content-length"] == got.headers["content-length"], path
            assert head.headers["x-request-id"] != got.headers["x-request-id"]


def test_head_answers_errors_as_get_does(server: RunningServer) -> None:
    with httpx.Client(base_url=server.url) as client:
        assert client.head("/v1/models/nope").status_code == 404
        assert client.head("/no/such/route").status_code == 404
        # A prediction route is POST only: as a GET would, HEAD needs the key first...
        assert client.head("/v1/models/mnist/predict").status_code == 401
        # ...and with it, is a method the route does not take.
        keyed = client.head("/v1/models/mnist/predict", headers={"X-API-Key": KEY})
        assert keyed.status_code == 405 and keyed.content == b""


def test_head_is_recorded_as_head(
    server: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    with access_logging():
        server.access_lines(capsys)  # what earlier tests left
        httpx.head(server.url + "/v2/health/live")
        lines = [x for x in server.access_lines(capsys, 1) if x["path"] == "/v2/health/live"]
    assert [(x["method"], x["status"]) for x in lines] == [("HEAD", 200)]
