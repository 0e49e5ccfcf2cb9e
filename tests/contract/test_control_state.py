"""control.json is part of the contract: what training's `--promote` writes, the service
reads and applies, and what the service's control API writes, training keeps when it
promotes."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from modelrepo import control_state
from tests.builders import image_manifest, publish, random_mlp
from tests.servers import running, wait_until
from training.promote import promote

PIXELS = {"inputs": [{"name": "pixels", "shape": [1, 784], "datatype": "UINT8", "data": [4] * 784}]}


def test_a_version_training_promotes_is_the_one_the_service_serves(tmp_path: Path) -> None:
    repo = tmp_path / "models"
    for version, accuracy in ((1, 0.92), (2, 0.80)):
        manifest = image_manifest("mnist", version) | {"metrics": {"accuracy": accuracy}}
        publish(repo, random_mlp(version), manifest)
    gate = {"version_policy": {"all": {}}, "gate": {"metric": "accuracy"}}
    (repo / "mnist" / "serving.json").write_text(json.dumps(gate))
    with running(repo, reload_interval_s=0.1) as srv, httpx.Client(base_url=srv.url) as client:
        assert client.post("/v2/models/mnist/infer", json=PIXELS).json()["model_version"] == "1"
        promote(repo, "mnist", 2)
        state = control_state.parse((repo / "mnist" / "control.json").read_bytes())
        assert state.promoted == 2 and state.last_action is not None
        wait_until(
            lambda: (
                client.post("/v2/models/mnist/infer", json=PIXELS).json()["model_version"] == "2"
            )
        )


def test_training_keeps_what_the_service_recorded(tmp_path: Path) -> None:
    folder = tmp_path / "mnist"
    for version in (1, 2):
        (folder / str(version)).mkdir(parents=True)
    control_state.record(folder, "canary", 2, 10)
    control_state.record(folder, "pin", 1)
    promote(tmp_path, "mnist", 2)
    state = control_state.parse((folder / "control.json").read_bytes())
    assert (state.promoted, state.pinned, state.canary, state.serial) == (2, 1, None, 3)
