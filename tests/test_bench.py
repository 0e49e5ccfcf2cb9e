"""The benches measure what they say: the in-process one sends real requests through the
whole app, and with the model call left out (one cached result per batch size); the peers
run the service's own model and activation, and the goals compare against the fastest
peer that answered every request."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench import defaults, grpc_silent_streams, payloads, peers, protobuf_copies, transports
from bench.__main__ import PEER_SCENARIOS, SCENARIOS, against_peers
from bench.in_process import cached_scores, lifespan, per_request_us
from bench.peer_apps._model import Mnist
from bench.runner import Result, free_port, service_argv
from modelrepo.manifest import Manifest
from service.app import create_app
from service.runtime.loaded_model import scorer
from service.runtime.sessions import Runtime, Session
from service.settings import Settings

MODELS = Path(__file__).resolve().parent.parent / "models"


def test_the_in_process_bench_drives_the_app_and_can_leave_the_model_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[int] = []
    original = Session.run

    def counted(self: Session, batch: np.ndarray, options: Any = None) -> np.ndarray:
        calls.append(len(batch))
        return original(self, batch, options)

    monkeypatch.setattr(Session, "run", counted)
    body, headers = payloads.bodies()["v2_binary64"]

    async def main() -> tuple[float, float]:
        app = create_app(
            Settings(models_dir=MODELS, access_log=False, reload_interval_s=0, grpc_port=0)
        )
        async with lifespan(app):
            calls.clear()  # loading warms every model up
            whole = await per_request_us(app, "/v2/models/mnist/infer", body, headers, 4, 40)
            model_calls = len(calls)
            with cached_scores():
                rest = await per_request_us(app, "/v2/models/mnist/infer", body, headers, 4, 40)
        assert model_calls >= 10 and sum(calls[:model_calls]) == 40 * 64  # every row ran
        assert len(calls) == model_calls + 1  # left out: one call for the cache, then none
        return whole, rest

    whole, rest = asyncio.run(main())
    assert whole > 0 and rest > 0


def test_a_request_the_app_refuses_fails_the_bench_instead_of_timing_an_error() -> None:
    async def main() -> None:
        app = create_app(
            Settings(models_dir=MODELS, access_log=False, reload_interval_s=0, grpc_port=0)
        )
        async with lifespan(app):
            await per_request_us(app, "/v2/models/nonexistent/infer", b"{}", {}, 2, 4)

    with pytest.raises(RuntimeError, match=r"answered \[404\]"):
        asyncio.run(main())


def test_the_peers_compute_what_the_service_computes_for_the_same_rows() -> None:
    folder = MODELS / "mnist" / "1"
    manifest = Manifest.model_validate_json((folder / "manifest.json").read_text())
    session = Runtime(["CPUExecutionProvider"], 1).create(
        (folder / "model.onnx").read_bytes(), manifest
    )
    pixels = np.random.default_rng(1).integers(0, 256, (64, 784), dtype=np.uint8)
    _, ours = scorer(session.run, manifest)(pixels)
    theirs = Mnist(str(folder / "model.onnx")).probabilities(pixels)
    np.testing.assert_allclose(theirs, ours, rtol=1e-5, atol=1e-7)


def test_a_missing_peer_environment_says_how_to_make_it(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match=r"python -m bench\.peers"):
        peers.argv(tmp_path, "kserve")


def _result(rps: float, errors: int = 0) -> Result:
    return Result(int(rps * 10), 10.0, errors, 1.0, 2.0, 0.1)


def test_the_goals_compare_with_the_fastest_peer_that_answered_every_request() -> None:
    medians = {(sc.target, sc.name): _result(1000.0) for sc in SCENARIOS}
    medians |= {(sc.target, sc.name): _result(100.0) for sc in PEER_SCENARIOS}
    # the fastest batch of 64 refused its requests: it does not count
    medians[("kserve", "KServe V2 binary batch 64, 8 conn")] = _result(900.0, errors=50)
    medians[("mlserver", "MLServer V2 JSON batch 64, 8 conn")] = _result(250.0)
    medians[("mosec", "Mosec JSON single, 32 conn")] = _result(400.0)

    lines = against_peers(medians)

    refused = next(line for line in lines if line.startswith("| KServe V2 binary batch 64"))
    assert "| 900 | 57,600 |" in refused and "refused" in refused
    assert "| v2 JSON single, 32 conn | 1,000 | Mosec JSON single, 32 conn | 400 | 2.50x |" in lines
    binary = next(line for line in lines if line.startswith("| v2 binary batch 64"))
    assert binary.endswith("| 64,000 | MLServer V2 JSON batch 64, 8 conn | 16,000 | 4.00x |")


def test_the_service_is_benched_as_a_user_starts_it_and_switches_come_after() -> None:
    argv = service_argv(MODELS, "--no-access-log", "--grpc-port", "0")
    assert "--no-access-log" not in argv[: argv.index("--grpc-port") + 2]  # the default logs
    grpc_port = int(argv[argv.index("--grpc-port") + 1])
    assert grpc_port > 0  # and listens for gRPC, on a port of its own
    # The configuration's own switches come last, so they win.
    assert argv[-3:] == ["--no-access-log", "--grpc-port", "0"]
    assert service_argv(MODELS, grpc=False).count("--grpc-port") == 0  # a pre-gRPC checkout


def test_the_defaults_table_divides_each_configuration_by_its_neighbours_in_the_run() -> None:
    def result(rps: float) -> Result:
        return Result(int(rps * 5), 5.0, 0, 1.0, 2.0, 1000 / rps)

    targets = [*defaults.CONFIGURATIONS, defaults.SINK]
    rates = dict(zip(targets, (900.0, 950.0, 960.0, 1000.0, 4000.0), strict=True))
    medians = {(t, load.name): result(rates[t]) for t in targets for load in defaults.LOADS}
    lines = defaults.table(medians, targets) + defaults.ratios(medians, targets)
    assert "| default (access log on, gRPC on) | 900, 1.111 |" in lines[2]
    stripped = next(line for line in lines if line.startswith("| default") and "/ --grpc" in line)
    assert stripped.count("0.90x") == len(defaults.LOADS)
    sink = next(line for line in lines if line.startswith("| default") and "sink" in line)
    assert sink.count("0.23x") == len(defaults.LOADS)


@pytest.mark.parametrize("sync", [False, True], ids=["aio", "sync"])
def test_the_bare_grpcio_server_answers_as_the_service_would_for_each_size(sync: bool) -> None:
    port = free_port()
    with transports.grpcio_sink(port, sync=sync) as sink:
        for rows in (1, 64):  # the same check the bench makes of every gRPC server
            transports.check_grpc(f"127.0.0.1:{port}", transports.grpc_frame(rows), rows)
        assert sink.cpu_seconds() >= 0


def test_the_copy_measured_is_of_the_requests_own_tensor_bytes() -> None:
    size, parse, copy, zero_copy = protobuf_copies.measure(64, number=10)
    assert size > 64 * 784  # the frame holds the rows' bytes, found and sliced in place
    assert parse > 0 and copy > 0 and zero_copy > 0


@pytest.mark.serial  # the silent streams must be at the server before the good call
def test_silent_streams_starve_grpcios_thread_pool_server_and_not_its_asyncio_one() -> None:
    """Why the service stays on grpc.aio: if grpcio's sync server stops holding a thread for
    a message that never comes, this fails, and moving to it is worth measuring again."""
    assert grpc_silent_streams.good_call_seconds(sync=True, silent=16, timeout=2) is None
    answered = grpc_silent_streams.good_call_seconds(sync=False, silent=16, timeout=10)
    assert answered is not None and answered < 2
