"""The gateway's pieces, each on its own (request ids, the refusals, the route table), and the
gateway putting them in order in front of a small app of its own: no models, no server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from starlette.responses import Response

from service.api.gateway import Gateway
from service.api.http_errors import install
from service.api.refusals import BodyLimit, query_credentials
from service.api.responses import json_response
from service.api.route_table import PredictionRouter, RouteTable
from service.edge.access import AccessRecord
from service.edge.access_log import AccessLog
from service.edge.admission import InFlightLimit
from service.edge.credentials import ApiKeys, Credentials
from service.edge.inflight import InFlight
from service.edge.request_context import RequestContext
from service.edge.request_ids import RequestIds, is_safe
from service.errors import InvalidInput, Overloaded, PayloadTooLarge, Unauthorized
from service.metrics.prometheus import Metrics
from service.settings import Settings
from tests.servers import access_logging

KEY = "a-key-of-sixteen-characters"

# -- request ids -------------------------------------------------------------------------------


def test_a_safe_client_request_id_is_kept_and_marked_as_the_clients() -> None:
    assert RequestIds().choose(b"trace-42:a.b_c") == ("trace-42:a.b_c", True)


@pytest.mark.parametrize("given", [None, b"", b"a b", b"x" * 129, b"quote'", b"\xff"])
def test_a_missing_or_unsafe_request_id_is_replaced_by_a_new_one(given: bytes | None) -> None:
    ids = RequestIds()
    chosen, from_client = ids.choose(given)
    assert not from_client and len(chosen) == 16 and is_safe(chosen)
    assert ids.choose(given)[0] != chosen  # every new id differs


def test_a_body_id_is_adopted_only_when_safe_and_the_client_sent_no_header() -> None:
    ctx = RequestContext("generated", request_id_from_client=False)
    ctx.adopt("a b")
    assert ctx.request_id == "generated"
    ctx.adopt("from-body")
    assert ctx.request_id == "from-body"
    headed = RequestContext("from-header", request_id_from_client=True)
    headed.adopt("from-body")
    assert headed.request_id == "from-header"


# -- refusals ----------------------------------------------------------------------------------


def test_the_inflight_limit_refuses_past_it_and_says_so_once_per_refusal() -> None:
    inflight, refused = InFlight(), []
    limit = InFlightLimit(inflight, 2, lambda: refused.append(1))
    for _ in range(2):
        inflight.enter()
        assert limit.refusal() is None
    inflight.enter()
    assert isinstance(limit.refusal(), Overloaded) and refused == [1]


@pytest.mark.parametrize("query", [b"token=x", b"a=1&API_KEY=x", b"password=", b"auth=1"])
def test_credentials_in_a_query_string_are_refused(query: bytes) -> None:
    assert isinstance(query_credentials(query), InvalidInput)


def test_other_query_parameters_pass() -> None:
    assert query_credentials(b"top_k=3&threshold=0.4&tokens=1") is None


def test_the_body_limit_refuses_a_declared_size_and_a_body_that_grows_past_it() -> None:
    limit = BodyLimit(10)
    assert limit.refusal(b"10") is None and limit.refusal(None) is None
    assert isinstance(limit.refusal(b"11"), PayloadTooLarge)
    chunks = iter([b"123456", b"78901"])

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": next(chunks), "more_body": True}

    async def read_all() -> None:
        limited = limit.limited(receive)
        assert (await limited())["body"] == b"123456"
        await limited()

    with pytest.raises(PayloadTooLarge):
        asyncio.run(read_all())


@pytest.mark.parametrize(
    ("authorization", "api_key", "accepted"),
    [
        (b"Bearer " + KEY.encode(), None, True),
        (b"bearer  " + KEY.encode(), None, True),
        (None, KEY.encode(), True),
        (None, None, False),
        (KEY.encode(), None, False),  # no scheme
        (b"Bearer wrong-key-of-some-length", None, False),
        (b"Bearer " + KEY.encode(), b"wrong", False),  # X-API-Key is read first
    ],
)
def test_api_keys_come_as_a_bearer_token_or_x_api_key(
    authorization: bytes | None, api_key: bytes | None, accepted: bool
) -> None:
    keys = ApiKeys(["another-key-of-some-length", KEY])
    refusal = keys.refusal(authorization, api_key)
    assert (refusal is None) is accepted
    assert refusal is None or isinstance(refusal, Unauthorized)


# -- the route table ---------------------------------------------------------------------------


def _router(
    inflight: InFlight | None = None, gate: asyncio.Event | None = None
) -> PredictionRouter:
    """Routes that say how they were called, and how many requests were in flight then."""
    router = PredictionRouter()

    @router.prediction("/v9/models/{name}/wait", fast=True)
    async def wait(request: Request, name: str) -> Response:
        assert gate is not None
        await gate.wait()
        return json_response({})

    def in_flight() -> int:
        return inflight.count if inflight is not None else -1

    @router.prediction("/v9/models/{name}/run", fast=True)
    async def run(request: Request, name: str) -> Response:
        # FastAPI's routing marks the scope with the endpoint; the fast path does not.
        return json_response({"name": name, "via_fastapi": "endpoint" in request.scope})

    @router.prediction("/v9/models/{name}/upload", fast=False)
    async def upload(request: Request, name: str) -> Response:
        return json_response({"via_fastapi": "endpoint" in request.scope})

    @router.prediction("/v9/models/{name}/broken", fast=True)
    async def broken(request: Request, name: str) -> Response:
        raise RuntimeError("a bug")

    @router.get("/v9/health")
    def health() -> Response:
        return json_response({"in_flight": in_flight()})

    @router.get("/v2/health/live")
    def live() -> Response:
        return json_response({"in_flight": in_flight()})

    return router


def test_declared_routes_are_recorded_with_their_paths_and_whether_they_are_fast() -> None:
    router = _router()
    assert [(r.path, r.fast) for r in router.predictions] == [
        ("/v9/models/{name}/wait", True),
        ("/v9/models/{name}/run", True),
        ("/v9/models/{name}/upload", False),
        ("/v9/models/{name}/broken", True),
    ]
    table = RouteTable(router.predictions)
    assert table.fast_paths == [
        "/v9/models/{name}/wait",
        "/v9/models/{name}/run",
        "/v9/models/{name}/broken",
    ]


def test_the_table_matches_by_path_alone_and_gives_the_path_parameters() -> None:
    table = RouteTable(_router().predictions)
    matched = table.match("/v9/models/abc/run")
    assert matched is not None and matched[1] == {"name": "abc"}
    assert table.match("/v9/health") is None
    assert table.match("/v9/models/a/b/run") is None


# -- the gateway, in front of a small app ------------------------------------------------------


Call = Callable[[httpx.AsyncClient], Awaitable[Any]]


def through_gateway(
    call: Call, gate: asyncio.Event | None = None, **settings: Any
) -> tuple[Any, InFlight, Metrics]:
    inflight = InFlight()
    router = _router(inflight, gate)
    app = FastAPI()
    install(app)
    app.include_router(router)
    metrics = Metrics(inflight.current)
    config = Settings(**settings)
    access = AccessRecord(metrics, log=None)
    gateway = Gateway(
        app, RouteTable(router.predictions), config, inflight, metrics, Credentials(config), access
    )

    async def main() -> Any:
        transport = httpx.ASGITransport(app=gateway)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await call(client)

    return asyncio.run(main()), inflight, metrics


def test_a_fast_route_is_called_directly_and_the_others_through_fastapi() -> None:
    async def call(client: httpx.AsyncClient) -> list[httpx.Response]:
        return [await client.post("/v9/models/m/run"), await client.post("/v9/models/m/upload")]

    (fast, slow), inflight, _ = through_gateway(call)
    assert fast.json() == {"name": "m", "via_fastapi": False}
    assert slow.json() == {"via_fastapi": True}
    assert fast.headers["x-request-id"] and slow.headers["x-request-id"]
    assert inflight.count == 0  # every request left


def test_every_declared_route_needs_a_key_whatever_the_method_and_others_do_not() -> None:
    async def call(client: httpx.AsyncClient) -> list[int]:
        statuses = [
            (await client.request(method, f"/v9/models/m/{what}")).status_code
            for method in ("POST", "GET")
            for what in ("run", "upload", "broken")
        ]
        statuses.append((await client.get("/v9/health")).status_code)
        keyed = await client.post("/v9/models/m/run", headers={"X-API-Key": KEY})
        return [*statuses, keyed.status_code]

    statuses, _, _ = through_gateway(call, api_keys=[KEY])
    assert statuses == [401] * 6 + [200, 200]  # 401 even where the method is not served


def test_an_error_in_a_fast_route_is_a_json_500_with_the_request_id() -> None:
    async def call(client: httpx.AsyncClient) -> httpx.Response:
        return await client.post("/v9/models/m/broken", headers={"X-Request-ID": "find-me"})

    response, inflight, metrics = through_gateway(call)
    assert response.status_code == 500
    assert response.json() == {"error": "internal server error (request id find-me)"}
    assert inflight.count == 0
    assert 'endpoint="other",model="-",status="500"' in metrics.render().decode()


def test_refusals_come_before_any_work_and_are_counted() -> None:
    async def call(client: httpx.AsyncClient) -> list[int]:
        big = await client.post("/v9/models/m/run", content=b"x" * 100)
        query = await client.post("/v9/models/m/run?token=secret")
        return [big.status_code, query.status_code]

    statuses, _, metrics = through_gateway(call, max_body_bytes=10)
    assert statuses == [413, 400]
    text = metrics.render().decode()
    assert 'status="413"' in text and 'status="400"' in text


def test_requests_count_in_flight_while_they_run_except_health_and_metrics() -> None:
    async def call(client: httpx.AsyncClient) -> list[int]:
        counted = (await client.get("/v9/health")).json()["in_flight"]
        exempt = (await client.get("/v2/health/live")).json()["in_flight"]
        return [counted, exempt]

    seen, inflight, _ = through_gateway(call)
    assert seen == [1, 0] and inflight.count == 0


def test_past_the_inflight_limit_a_request_is_refused_with_retry_after_and_health_is_not() -> None:
    gate = asyncio.Event()

    async def call(client: httpx.AsyncClient) -> list[Any]:
        held = asyncio.ensure_future(client.post("/v9/models/m/wait"))
        while not gate.is_set() and (await client.get("/v2/health/live")).json()["in_flight"] < 1:
            await asyncio.sleep(0.001)
        refused = await client.post("/v9/models/m/run")
        health = await client.get("/v2/health/live")
        gate.set()
        return [
            (await held).status_code,
            refused.status_code,
            refused.headers.get("retry-after"),
            health.status_code,
        ]

    results, inflight, metrics = through_gateway(call, gate, max_inflight=1)
    assert results == [200, 503, "1", 200] and inflight.count == 0
    assert 'logitserve_rejected_total{reason="overloaded"} 1.0' in metrics.render().decode()


def test_the_access_record_counts_the_request_and_logs_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    metrics = Metrics()
    ctx = RequestContext("rid-1", False, endpoint="v2_infer", model="m", version="3")
    log = AccessLog()
    with access_logging():
        AccessRecord(metrics, log).record(ctx, "POST", "/v2/models/m/infer", 200, 0.0015)
        AccessRecord(metrics, None).record(ctx, "POST", "/v2/models/m/infer", 200, 0.0015)
    log.close()
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [(x["request_id"], x["status"], x["ms"]) for x in lines] == [("rid-1", 200, 1.5)]
    text = metrics.render().decode()
    assert (
        'logitserve_requests_total{endpoint="v2_infer",model="m",status="200",version="3"} 2.0'
        in text
    )
