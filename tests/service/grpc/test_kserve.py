"""KServe's stock InferenceGRPCClient against the server (in a process of its own, see
tests/service/grpc/kserve_client.py): raw and typed tensors, classification, errors; and KServe's
protocol file is wire-compatible with the Triton one served here, field for field."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from service.grpc.generated import grpc_service_pb2
from tests.servers import RunningServer
from tests.service.grpc.conftest import MODELS, Case, check_classes

CLIENT = Path(__file__).with_name("kserve_client.py")


def _call(case: Case, raw: bool, outputs: dict[str, int]) -> dict[str, object]:
    return {
        "model": case.model,
        "input": case.input,
        "datatype": case.datatype,
        "shape": list(case.rows.shape),
        "data": case.rows.ravel().tolist(),
        "raw": raw,
        "outputs": outputs,
    }


@pytest.fixture(scope="module")
def kserve(server: RunningServer, cases: dict[str, Case]) -> dict[str, Any]:
    """Every call made once, in one run of KServe's client."""
    calls = [
        _call(cases[model], raw, {"probabilities": 0, "logits": 2})
        for model in MODELS
        for raw in (True, False)
    ]
    wrong = cases["mnist"]
    calls.append({**_call(wrong, True, {}), "shape": [1, 3 * 784]})
    calls.append({**_call(wrong, True, {}), "model": "nope"})
    done = subprocess.run(
        [sys.executable, str(CLIENT), server.grpc_target],
        input=json.dumps(calls),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_kserve_sees_a_live_ready_server(kserve: dict[str, Any]) -> None:
    assert kserve["health"] == {"live": True, "ready": True, "mnist": True}


@pytest.mark.parametrize("raw", [True, False], ids=["raw", "typed"])
@pytest.mark.parametrize("model", MODELS)
def test_kserve_infers_every_model(
    kserve: dict[str, Any], cases: dict[str, Case], model: str, raw: bool
) -> None:
    case = cases[model]
    answer = kserve["answers"][MODELS.index(model) * 2 + (0 if raw else 1)]
    assert answer["id"] == "kserve-1"
    probabilities = np.asarray(answer["outputs"]["probabilities"]).reshape(case.logits.shape)
    assert np.allclose(probabilities, case.probabilities, atol=1e-5)
    classes = np.asarray(answer["outputs"]["logits"], dtype=object).reshape(len(case.rows), -1)
    check_classes(case, "logits", classes, 2)


def test_kserve_gets_the_errors_as_status_codes(kserve: dict[str, Any]) -> None:
    shape, unknown = kserve["answers"][-2:]
    assert shape["code"] == "INVALID_ARGUMENT" and "shape must be [batch, 784]" in shape["details"]
    assert unknown == {"code": "NOT_FOUND", "details": "unknown model 'nope'"}


def test_kserves_protocol_file_is_a_wire_compatible_subset(kserve: dict[str, Any]) -> None:
    """Every field of KServe's messages has the same number and type in Triton's, but for the
    repository calls, where KServe numbers its own fields (see inference._model_name)."""
    ours = grpc_service_pb2.DESCRIPTOR
    checked = 0
    for message, field, number, kind in kserve["fields"]:
        if message.startswith("RepositoryModel"):
            continue
        descriptor = ours.message_types_by_name[message.split(".")[0]]
        for nested in message.split(".")[1:]:
            descriptor = descriptor.nested_types_by_name[nested]
        mine = descriptor.fields_by_name[field]
        assert (mine.number, mine.type) == (number, kind), (message, field)
        checked += 1
    assert checked > 40
