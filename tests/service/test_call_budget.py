"""How much Python one request runs, as a budget: the function calls (ours and the
libraries', C functions included) that cProfile counts per request on each hot path -- v1
single, v2 JSON single, v2 binary 64 rows, gRPC ModelInfer -- through the whole app in
process with the default settings (the access log on). Not a timing: the same code makes
about the same calls on any machine, so a change that adds work to a hot path fails here
everywhere. When a change removes work, lower the budget to what the failure message says.

Regenerate the figures with: python -m pytest tests/service/test_call_budget.py -s"""

from __future__ import annotations

import asyncio
import cProfile
import pstats
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench import payloads
from bench.in_process import post_scope
from service.api.http_app import create_http_app
from service.core import Core
from service.grpc.gate import Gate
from service.grpc.generated import grpc_service_pb2 as pb
from service.grpc.inference import InferenceService
from service.settings import Settings
from tests.builders import standard_repository
from tests.servers import access_logging

# Calls per request, measured on this commit (the same on every run here); a request may make
# up to ALLOWANCE times as many before this fails: the old access line (a LogRecord through
# logging's handlers) alone would be about 10% more.
BUDGET = {
    "v1 single": 448,
    "v2 JSON single": 438,
    "v2 binary 64": 442,
    "gRPC ModelInfer": 349,
}
ALLOWANCE = 1.05
REQUESTS = 40


class Context:
    """What the gate asks of grpc.aio's servicer context, for a call that succeeds."""

    def __init__(self) -> None:
        self.trailing: Any = None

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return (("x-request-id", "budget"),)

    def peer(self) -> str:
        return "ipv4:127.0.0.1:5000"

    def set_trailing_metadata(self, metadata: Any) -> None:
        self.trailing = metadata

    def set_code(self, code: Any) -> None:
        raise AssertionError(f"the call failed: {code}")

    def set_details(self, details: str) -> None:
        raise AssertionError(f"the call failed: {details}")

    async def abort(self, code: Any, details: str) -> None:
        raise AssertionError(f"the call was aborted: {code} {details}")


def http(app: Any, path: str, payload: str) -> Callable[[], Awaitable[None]]:
    body, headers = payloads.bodies()[payload]
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    raw.append((b"content-length", str(len(body)).encode()))

    async def call() -> None:
        scope = post_scope(path, raw)
        statuses = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])

        await app(scope, receive, send)
        assert statuses == [200], statuses

    return call


def grpc_infer(core: Core) -> Callable[[], Awaitable[None]]:
    settings = core.settings
    gate = Gate(settings, core.inflight, core.metrics, core.credentials, core.access)
    service = InferenceService(gate, core.dataplane, core.registry, settings)
    request = pb.ModelInferRequest(model_name="mnist")
    request.inputs.add(name="pixels", datatype="UINT8", shape=[1, 784])
    request.raw_input_contents.append((np.arange(784) % 256).astype(np.uint8).tobytes())
    data = request.SerializeToString()

    async def call() -> None:
        answer = await service.ModelInfer(data, Context())
        assert answer.outputs, answer

    return call


def calls_per_request(call: Callable[[], Awaitable[None]]) -> float:
    async def requests(n: int) -> None:
        for _ in range(n):
            await call()

    loop = asyncio.get_event_loop()
    loop.run_until_complete(requests(REQUESTS))  # warm: caches filled, labels made
    profile = cProfile.Profile()
    profile.enable()
    loop.run_until_complete(requests(REQUESTS))
    profile.disable()
    return float(pstats.Stats(profile).total_calls) / REQUESTS  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> dict[str, float]:
    repo = standard_repository(tmp_path_factory.mktemp("repo"))
    core = Core(Settings(models_dir=repo, reload_interval_s=0))
    app = create_http_app(core)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    counts = {}
    try:
        loop.run_until_complete(core.start())
        with access_logging():
            paths = {
                "v1 single": http(app, "/v1/models/mnist/predict", "v1_single"),
                "v2 JSON single": http(app, "/v2/models/mnist/infer", "v2_single"),
                "v2 binary 64": http(app, "/v2/models/mnist/infer", "v2_binary64"),
                "gRPC ModelInfer": grpc_infer(core),
            }
            for name, call in paths.items():
                counts[name] = calls_per_request(call)
        loop.run_until_complete(core.stop())
    finally:
        asyncio.set_event_loop(None)
        loop.close()
    print("calls per request:", {k: round(v) for k, v in counts.items()})
    return counts


@pytest.mark.parametrize("path", list(BUDGET))
def test_a_request_stays_within_its_budget_of_python_calls(
    measured: dict[str, float], path: str
) -> None:
    calls = measured[path]
    assert calls <= BUDGET[path] * ALLOWANCE, (
        f"{path}: {calls:.0f} calls a request, over the budget of {BUDGET[path]} "
        f"(+{ALLOWANCE - 1:.0%}): what did the change add to the hot path?"
    )


def test_the_budget_is_of_this_code_not_a_loose_ceiling(measured: dict[str, float]) -> None:
    # A budget far above what a request makes would let work creep back in unnoticed.
    loose = {k: round(v) for k, v in measured.items() if v < BUDGET[k] * 0.9}
    assert not loose, f"lower BUDGET to these measured counts: {loose}"


def test_the_counts_see_the_whole_path(measured: dict[str, float], tmp_path: Path) -> None:
    # Not a profile of an empty loop: each path runs the parser, the model and the metrics.
    assert all(calls > 100 for calls in measured.values()), measured
