"""Two nodes on this machine: deploy/training/job.yaml's own command, run twice as the Indexed
Job runs it on a cluster (JOB_COMPLETION_INDEX 0 and 1), two torchrun launchers with
``--nnodes 2`` meeting through the c10d rendezvous on 127.0.0.1, gloo on the CPU. Rank 0
publishes one version of a model of your own images; the other node publishes nothing."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from tests.training.conftest import write_digit_folder

ROOT = Path(__file__).resolve().parents[2]
JOB = ROOT / "deploy" / "training" / "job.yaml"
DEADLINE_S = 150  # it takes about 20-40 s; the rest is room for a loaded machine


def job_container() -> dict[str, Any]:
    job = yaml.safe_load(JOB.read_text())
    (container,) = job["spec"]["template"]["spec"]["containers"]
    return container


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_jobs_command_on_two_nodes_rendezvous_trains_and_publishes_one_version(
    tmp_path: Path,
) -> None:
    container = job_container()
    assert container["command"] == ["/bin/sh", "-c"]
    (script,) = container["args"]
    folder = write_digit_folder(tmp_path / "data" / "digits", {"zero": 0, "one": 1, "seven": 7}, 20)
    models = tmp_path / "models"
    env = {e["name"]: e["value"] for e in container["env"]}
    env |= {
        "DATA": str(folder),
        "MODELS_DIR": str(models),
        "CHECKPOINT_DIR": str(tmp_path / "ck"),
        "RDZV_ENDPOINT": f"127.0.0.1:{free_port()}",
        "TRAIN_OPTIONS": "--net mlp --epochs 40 --quiet --device cpu",
        "HOME": str(tmp_path),
        "OMP_NUM_THREADS": "1",
    }
    base = {**os.environ, **env, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    nodes: list[subprocess.Popen[str]] = []
    started = time.monotonic()
    try:
        for index in (0, 1):
            nodes.append(
                subprocess.Popen(
                    ["/bin/sh", "-c", script],
                    cwd=ROOT,
                    env={**base, "JOB_COMPLETION_INDEX": str(index)},
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    start_new_session=True,  # its own process group: killed whole below
                )
            )
        outputs = [node.communicate(timeout=DEADLINE_S) for node in nodes]
    finally:
        for node in nodes:
            if node.poll() is None:
                os.killpg(node.pid, signal.SIGKILL)
                node.wait()
    took = time.monotonic() - started
    for node, (_, err) in zip(nodes, outputs, strict=True):
        assert node.returncode == 0, err[-3000:]
    (out0, _), (out1, _) = outputs
    assert out0.count("published digits version 1") == 1 and "now serves" in out0
    assert "published" not in out1  # the other node trained its share and published nothing
    assert sorted(p.name for p in (models / "digits").iterdir()) == ["1", "serving.json"]
    manifest = json.loads((models / "digits" / "1" / "manifest.json").read_text())
    assert manifest["training"]["world_size"] == 2 and manifest["training"]["epochs_run"] <= 40
    # Both nodes' shares went into the weights: three classes of real digits, well above chance.
    assert manifest["validation_metrics"]["accuracy"] >= 0.6, manifest["validation_metrics"]
    print(f"\ntwo nodes: {took:.0f} s, test {manifest['metrics']}")
