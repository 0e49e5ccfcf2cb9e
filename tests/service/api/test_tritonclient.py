"""The official tritonclient[http] client, unchanged, against a real server: health,
metadata, and inference with binary_data on and off, with and without class_count."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import numpy as np
import pytest
import tritonclient.http as httpclient
import tritonclient.http.aio as aioclient
from tritonclient.utils import InferenceServerException

from tests.servers import RunningServer

ROWS = (np.arange(4 * 784).reshape(4, 784) % 256).astype(np.uint8)


@pytest.fixture
def triton(server: RunningServer) -> Iterator[httpclient.InferenceServerClient]:
    client = httpclient.InferenceServerClient(url=f"127.0.0.1:{server.port}")
    yield client
    client.close()


def _inputs(binary: bool) -> list[httpclient.InferInput]:
    tensor = httpclient.InferInput("pixels", list(ROWS.shape), "UINT8")
    tensor.set_data_from_numpy(ROWS, binary_data=binary)
    return [tensor]


def test_health_and_metadata(triton: httpclient.InferenceServerClient) -> None:
    assert triton.is_server_live()
    assert triton.is_server_ready()
    assert triton.is_model_ready("mnist")
    assert triton.is_model_ready("mnist", "1")
    assert not triton.is_model_ready("nope")
    assert triton.get_server_metadata()["name"] == "logitserve"
    meta = triton.get_model_metadata("mnist")
    assert meta["inputs"][0]["name"] == "pixels"


@pytest.mark.parametrize("binary", [True, False])
def test_infer_probabilities_and_logits(
    triton: httpclient.InferenceServerClient, binary: bool
) -> None:
    outputs = [
        httpclient.InferRequestedOutput("probabilities", binary_data=binary),
        httpclient.InferRequestedOutput("logits", binary_data=binary),
    ]
    result = triton.infer("mnist", _inputs(binary), outputs=outputs, request_id="abc")
    probs = result.as_numpy("probabilities")
    logits = result.as_numpy("logits")
    assert probs.shape == (4, 10) and logits.shape == (4, 10)
    assert np.allclose(probs.sum(axis=1), 1, atol=1e-5)
    assert (probs.argmax(axis=1) == logits.argmax(axis=1)).all()
    assert result.get_response()["id"] == "abc"


def test_infer_without_requested_outputs_returns_all_as_binary(
    triton: httpclient.InferenceServerClient,
) -> None:
    result = triton.infer("mnist", _inputs(True))
    assert result.as_numpy("probabilities").shape == (4, 10)
    assert result.as_numpy("logits").shape == (4, 10)


@pytest.mark.parametrize("binary", [True, False])
def test_class_count(triton: httpclient.InferenceServerClient, binary: bool) -> None:
    outputs = [httpclient.InferRequestedOutput("probabilities", binary_data=binary, class_count=3)]
    result = triton.infer("mnist", _inputs(binary), outputs=outputs)
    classes = result.as_numpy("probabilities")
    assert classes.shape == (4, 3)
    top = classes[0, 0].decode() if isinstance(classes[0, 0], bytes) else classes[0, 0]
    score, index, label = top.split(":")
    plain = triton.infer("mnist", _inputs(True)).as_numpy("probabilities")
    assert int(index) == int(plain[0].argmax()) and label == index
    assert abs(float(score) - float(plain[0].max())) < 1e-5


def test_version_and_errors_come_back_as_exceptions(
    triton: httpclient.InferenceServerClient,
) -> None:
    result = triton.infer("mnist", _inputs(True), model_version="1")
    assert result.get_response()["model_version"] == "1"
    bad = httpclient.InferInput("pixels", [1, 784], "FP32")
    bad.set_data_from_numpy(np.zeros((1, 784), np.float32))
    with pytest.raises(InferenceServerException, match="takes UINT8"):
        triton.infer("mnist", [bad])


def test_aio_client(server: RunningServer) -> None:
    async def run() -> tuple[bool, np.ndarray]:
        client = aioclient.InferenceServerClient(url=f"127.0.0.1:{server.port}")
        try:
            live = await client.is_server_live()
            tensor = aioclient.InferInput("pixels", list(ROWS.shape), "UINT8")
            tensor.set_data_from_numpy(ROWS)
            outputs = [aioclient.InferRequestedOutput("probabilities", class_count=1)]
            result = await client.infer("mnist", [tensor], outputs=outputs)
            return live, result.as_numpy("probabilities")
        finally:
            await client.close()

    live, classes = asyncio.run(run())
    assert live and classes.shape == (4, 1)
