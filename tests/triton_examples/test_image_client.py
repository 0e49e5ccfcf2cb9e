"""Triton's own example image client (image_client.py, a marked and attributed copy beside
this file) classifies a photo of a digit with the shipped mnist-cnn, over HTTP and gRPC: it
reads the model's metadata and Triton model configuration, sends the image, and prints the
top classes from the classification extension."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import RunningServer, free_port, running

ROOT = Path(__file__).resolve().parents[2]
CLIENT = Path(__file__).with_name("image_client.py")
PHOTO = ROOT / "docs" / "examples" / "digit-3.jpg"


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running(ROOT / "models", reload_interval_s=0, grpc_port=free_port()) as srv:
        yield srv


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_tritons_image_client_reads_a_three(shipped: RunningServer, protocol: str) -> None:
    url = shipped.grpc_target if protocol == "grpc" else f"127.0.0.1:{shipped.port}"
    done = subprocess.run(
        [
            sys.executable,
            str(CLIENT),
            "-m",
            "mnist-cnn",
            "-c",
            "3",
            "-i",
            protocol,
            "-u",
            url,
            str(PHOTO),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "Request 1, batch size 1" and lines[-1] == "PASS", done.stdout
    top = lines[1].split()  # "    0.987 (3) = 3": value, (index), =, label
    assert top[1:] == ["(3)", "=", "3"] and 0.5 < float(top[0]) <= 1.0, lines
    assert len(lines) == 5  # three classes, as asked
