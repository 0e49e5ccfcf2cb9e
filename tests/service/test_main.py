"""`python -m service`: command-line and environment settings, a real process, clean SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
import httpx
import pytest

from service.settings import Settings
from tests.servers import free_port, left_running, running_process, wait_until


def _grpc_infers(target: str) -> bool:
    import numpy as np
    import tritonclient.grpc as grpcclient

    client = grpcclient.InferenceServerClient(url=target)
    try:
        tensor = grpcclient.InferInput("features", [1, 4], "FP32")
        tensor.set_data_from_numpy(np.array([[20, 5, 3, 7]], dtype=np.float32))
        return client.infer("tshirt", [tensor]).as_numpy("probabilities").shape == (1, 1)
    finally:
        client.close()


def test_help_lists_the_settings() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "service", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for flag in (
        "--models-dir",
        "--host",
        "--port",
        "--grpc-port",
        "--workers",
        "--max-batch-wait-us",
        "--control-token",
    ):
        assert flag in out


def test_settings_come_from_the_environment_with_one_prefix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LOGITSERVE_PORT", "9123")
    monkeypatch.setenv("LOGITSERVE_PROVIDERS", "CPUExecutionProvider")
    monkeypatch.setenv("LOGITSERVE_CORS_ORIGINS", "https://a.example, https://b.example")
    settings = Settings()
    assert settings.port == 9123
    assert settings.providers == ["CPUExecutionProvider"]
    assert settings.cors_origins == ["https://a.example", "https://b.example"]


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        ([], {"LOGITSERVE_CONTROL_TOKEN": "short-secret"}, "--control-token"),
        (["--control-token", "short-secret"], {}, "--control-token"),
        ([], {"LOGITSERVE_API_KEYS": "tiny-secret"}, "--api-keys"),
        (["--api-keys", "long-enough-key-0123,tiny-secret"], {}, "--api-keys"),
        ([], {"LOGITSERVE_PROVIDERS": ""}, "--providers"),
    ],
)
def test_unsafe_settings_are_refused_at_boot_in_one_line(
    args: list[str], env: dict[str, str], says: str
) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "service", "--port", "1", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=60,
    )
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.startswith("logitserve: error: ") and says in r.stderr
    assert "tiny-secret" not in r.stderr and "short-secret" not in r.stderr  # never echoed
    if says != "--providers":
        assert "at least 16 characters" in r.stderr


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"LOGITSERVE_CONTROL_TOKEN": "aaaaaaaaaaaaaaaa"}, "--control-token"),
        ({"LOGITSERVE_CONTROL_TOKEN": "secret-secret-secret"}, "--control-token"),
        ({"LOGITSERVE_API_KEYS": "a-good-key-of-some-length,abababababababab"}, "--api-keys"),
    ],
)
def test_secrets_without_entropy_are_refused_at_boot(env: dict[str, str], says: str) -> None:
    """Before: any 16 characters were accepted as a token (`aaaaaaaaaaaaaaaa`)."""
    r = subprocess.run(
        [sys.executable, "-m", "service", "--port", "1"],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=60,
    )
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and says in r.stderr and "too predictable" in r.stderr
    assert "secrets.token_urlsafe" in r.stderr
    assert not any(secret in r.stderr for secret in env.values())  # never echoed


def test_tokens_and_keys_of_words_and_digits_are_accepted() -> None:
    settings = Settings(
        control_token="a-control-token-of-some-length",
        api_keys=["page-test-key-0123456789", "4f3c9a0b1d2e7f68"],
    )
    assert settings.control_token is not None and len(settings.api_keys) == 2


def test_an_out_of_range_option_is_named_in_one_line() -> None:
    r = subprocess.run(
        [sys.executable, "-m", "service", "--port", "99999"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2
    assert r.stderr == (
        "logitserve: error: --port (LOGITSERVE_PORT): Input should be less than or equal to 65535\n"
    )


def test_serves_on_the_given_ports_and_exits_cleanly_on_sigterm(repository: Path) -> None:
    grpc_port = free_port()
    with running_process(repository, "--grpc-port", str(grpc_port)) as srv:
        with httpx.Client(base_url=srv.url) as client:
            wait_until(lambda: client.get("/v2/health/ready").status_code == 200, timeout=30)
            r = client.post("/v1/models/tshirt/predict", json={"instances": [[20, 5, 3, 7]]})
            assert r.status_code == 200
        assert _grpc_infers(f"127.0.0.1:{grpc_port}")  # on uvloop, as served
        started = time.monotonic()
        srv.process.send_signal(signal.SIGTERM)
        # Uvicorn shuts down gracefully, then re-raises the signal so the exit status says why.
        assert srv.process.wait(timeout=15) in (0, -signal.SIGTERM)
        assert time.monotonic() - started < 10
        log = srv.log_text()
    assert '"model version ready"' in log  # structured JSON logs
    assert '"shutdown complete"' in log  # both transports drained, the core stopped


def test_several_workers_serve_with_the_same_settings(repository: Path) -> None:
    """--workers hands the command-line settings to each worker process."""
    grpc_port = free_port()
    with (
        running_process(
            repository, "--workers", "2", "--max-top-k", "2", "--grpc-port", str(grpc_port)
        ) as srv,
        httpx.Client(base_url=srv.url) as client,
    ):
        wait_until(lambda: client.get("/v2/health/ready").status_code == 200, timeout=60)
        for _ in range(10):  # reaches both workers
            r = client.post("/v1/models/mnist/predict?top_k=3", json={"instances": [[0] * 784]})
            assert r.status_code == 400 and "from 1 to 2" in r.json()["error"]
        # Both workers listen for gRPC on the one port (SO_REUSEPORT): new connections reach
        # both, told apart by their request ids' per-process prefix.
        assert _grpc_infers(f"127.0.0.1:{grpc_port}")
        prefixes: set[str] = set()

        def both_answer() -> bool:  # the second worker may still be loading the models
            with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
                live = channel.unary_unary("/inference.GRPCInferenceService/ServerLive")
                _, call = live.with_call(b"", timeout=10)
                prefixes.update(v[:8] for k, v in call.trailing_metadata() if k == "x-request-id")
            return len(prefixes) == 2

        wait_until(both_answer, timeout=60, interval=0.05)


def test_a_grpc_port_in_use_stops_the_start_naming_it(repository: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = subprocess.run(
            [
                sys.executable,
                "-m",
                "service",
                "--models-dir",
                str(repository),
                "--port",
                "0",
                "--grpc-port",
                str(port),
                "--providers",
                "CPUExecutionProvider",
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert r.returncode != 0
    # One line, for people: the port, why, and the option that chose it; no gRPC C++ log
    # line or traceback before it.
    errors = [line for line in r.stderr.splitlines() if not line.startswith('{"ts"')]
    assert errors == [
        f"logitserve: error: gRPC cannot listen on 127.0.0.1:{port}: address already in use; "
        "choose another port with --grpc-port N (LOGITSERVE_GRPC_PORT), or --grpc-port 0 to "
        "serve no gRPC"
    ], r.stderr


@pytest.mark.parametrize("kind", ["missing", "empty"])
def test_a_missing_or_empty_models_dir_is_said_at_start(tmp_path: Path, kind: str) -> None:
    models = tmp_path / "models"
    if kind == "empty":
        models.mkdir()
    with subprocess.Popen(
        [sys.executable, "-m", "service", "--models-dir", str(models)]
        + ["--port", "0", "--grpc-port", "0", "--providers", "CPUExecutionProvider"],
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stderr is not None
        warnings = []
        for line in process.stderr:
            if '"level":"warning"' in line:
                warnings.append(line)
            if "Uvicorn running" in line:
                break
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
    said = "No such file or directory" if kind == "missing" else "the model repository is empty"
    assert len(warnings) == 1 and "no models: " in warnings[0] and said in warnings[0], warnings
    assert f"--models-dir {models}" in warnings[0]


def test_a_server_with_workers_leaves_no_process_behind(repository: Path) -> None:
    with running_process(repository, "--workers", "2", "--reload-interval-s", "0") as server:
        assert httpx.get(f"{server.url}/v2/health/ready").status_code == 200
        assert len(left_running()) >= 3  # the supervisor and its two workers
    assert left_running() == []
