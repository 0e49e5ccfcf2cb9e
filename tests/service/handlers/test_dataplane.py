"""The data plane without any transport: requests built as a gRPC server would build them
from a ModelInferRequest (typed contents or raw_input_contents, a classification parameter,
requested outputs) are checked against the model, run and answered as over HTTP."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from service.errors import InferenceFailed, InvalidInput, PayloadTooLarge, ServiceError
from service.handlers.dataplane import DataPlane
from service.metrics.prometheus import Metrics
from service.protocol.messages import (
    InferenceRequest,
    InferenceResponse,
    RequestedOutput,
    RequestTensor,
)
from service.protocol.tensors import RawBytes, Values
from service.runtime.batching import BatchOptions
from service.runtime.loaded_model import ModelLoader
from service.runtime.sessions import Runtime, Session
from service.serving.registry import Registry
from tests.builders import standard_repository

COURSE = [200.0, 17.0]  # the course's dense layer: logits [165, -531, 900]


def make_plane(root: Path, **limits: int) -> tuple[DataPlane, Metrics]:
    metrics = Metrics()
    batching = BatchOptions(
        executor=None,
        enabled=True,
        max_batch_rows=256,
        max_wait_s=0.0,
        inline_s=0.0,
        others_in_flight=lambda: False,
    )
    loader = ModelLoader(Runtime(["CPUExecutionProvider"], 1), 10_000_000, batching, metrics)
    registry = Registry(root, loader, metrics.set_models)
    asyncio.run(registry.refresh())
    return DataPlane(registry, max_instances=8, **limits), metrics


@pytest.fixture(scope="module")
def repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return standard_repository(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def plane(repository: Path) -> tuple[DataPlane, Metrics]:
    return make_plane(repository)


def infer(plane: DataPlane, model: str, request: InferenceRequest) -> InferenceResponse:
    return asyncio.run(plane.infer(plane.model(model), request))


def features(content: Any, shape: list[int] | None = None, name: str = "features") -> RequestTensor:
    return RequestTensor(name, "FP32", shape or [1, 2], content)


def test_typed_contents_and_raw_contents_give_the_same_answer(
    plane: tuple[DataPlane, Metrics],
) -> None:
    dp, _ = plane
    typed = Values(COURSE, may_hold_booleans=False)  # InferTensorContents.fp32_contents
    raw = RawBytes(np.array(COURSE, "<f4").tobytes(), "raw_input_contents")
    answers = [
        infer(dp, "course", InferenceRequest("r1", [features(content)], None))
        for content in (typed, raw)
    ]
    for answer in answers:
        assert (answer.model_name, answer.model_version, answer.id) == ("course", "1", "r1")
        assert [(o.name, o.datatype, o.shape) for o in answer.outputs] == [
            ("probabilities", "FP32", [1, 3]),
            ("logits", "FP32", [1, 3]),
        ]
        assert np.asarray(answer.outputs[1].data).tolist() == [[165.0, -531.0, 900.0]]


def test_classification_of_a_one_column_output_is_capped_at_its_one_column(
    plane: tuple[DataPlane, Metrics],
) -> None:
    """As Triton: the count is capped at the tensor's width; index 0 is the only class, the
    positive one, and its value is the tensor's own (a probability, or a logit)."""
    dp, _ = plane
    tensor = RequestTensor("features", "FP32", [1, 4], Values([20, 5, 3, 7], False))
    asked = (
        RequestedOutput("probabilities", classification=5),
        RequestedOutput("logits", classification=2),
    )
    response = infer(dp, "tshirt", InferenceRequest(None, [tensor], asked))
    plain = infer(dp, "tshirt", InferenceRequest(None, [tensor], None))
    values = {o.name: np.asarray(o.data) for o in plain.outputs}
    for output in response.outputs:
        assert (output.datatype, output.shape) == ("BYTES", [1, 1])
        [entry] = output.data
        value, index, label = str(entry).split(":", 2)
        assert (index, label) == ("0", "top seller")
        assert abs(float(value) - float(values[output.name][0, 0])) < 1e-5


def test_classification_values_are_those_of_the_requested_tensor(
    plane: tuple[DataPlane, Metrics],
) -> None:
    """Logits asked for: logits reported, in the order of the largest; probabilities asked
    for: probabilities. Same classes either way (softmax keeps the order)."""
    dp, _ = plane
    tensor = features(Values([200.0, 17.0, 1.0, 2.0, -3.0, 0.5]), [3, 2])
    asked = (
        RequestedOutput("logits", classification=3),
        RequestedOutput("probabilities", classification=3),
    )
    response = infer(dp, "course", InferenceRequest(None, [tensor], asked))
    plain = infer(dp, "course", InferenceRequest(None, [tensor], None))
    values = {o.name: np.asarray(o.data) for o in plain.outputs}
    for output in response.outputs:
        rows = np.asarray(output.data).reshape(output.shape)
        for row, expected in zip(rows, values[output.name]):
            parsed = [str(s).split(":") for s in row]
            indices = [int(i) for _, i, _ in parsed]
            assert indices == sorted(range(3), key=lambda i: -expected[i])
            assert np.allclose([float(v) for v, _, _ in parsed], expected[indices], atol=1e-5)
            assert [label for _, _, label in parsed] == [["a", "b", "c"][i] for i in indices]


@pytest.mark.parametrize(
    ("request_", "error", "words"),
    [
        (InferenceRequest(None, [], None), InvalidInput, "list of one tensor, 'features'"),
        (
            InferenceRequest(None, [features(Values(COURSE), name="x")], None),
            InvalidInput,
            "has one input, 'features'",
        ),
        (
            InferenceRequest(
                None, [RequestTensor("features", "UINT8", [1, 2], Values([1, 2]))], None
            ),
            InvalidInput,
            "takes FP32, got UINT8",
        ),
        (
            InferenceRequest(None, [features(Values(COURSE), [1, -2])], None),
            InvalidInput,
            "non-negative",
        ),
        (  # one row over max_batch_size (8 here): invalid, as Triton says
            InferenceRequest(None, [features(Values(COURSE * 9), [9, 2])], None),
            InvalidInput,
            "batch-size must be <= 8 for 'course' (got 9)",
        ),
        (
            InferenceRequest(None, [features(Values(COURSE * 9), [1, 18])], None),
            PayloadTooLarge,
            "more elements than the limit allows",
        ),
        (
            InferenceRequest(None, [features(RawBytes(b"\0" * 4, "raw_input_contents"))], None),
            InvalidInput,
            "needs 8 bytes, raw_input_contents is 4",
        ),
        (
            InferenceRequest(
                None,
                [features(Values(COURSE))],
                (RequestedOutput("logits"), RequestedOutput("logits")),
            ),
            InvalidInput,
            "'logits' is requested twice",
        ),
        (
            InferenceRequest(None, [features(Values(COURSE))], (RequestedOutput("scores"),)),
            InvalidInput,
            "has outputs ['probabilities', 'logits']",
        ),
        (
            InferenceRequest("x" * 257, [features(Values(COURSE))], None),
            InvalidInput,
            "at most 256 characters",
        ),
    ],
)
def test_a_request_that_does_not_fit_the_model_is_refused_naming_the_problem(
    plane: tuple[DataPlane, Metrics],
    request_: InferenceRequest,
    error: type[ServiceError],
    words: str,
) -> None:
    with pytest.raises(error) as refused:
        infer(plane[0], "course", request_)
    assert words in refused.value.message


def test_a_model_that_fails_is_an_inference_failure_counted_for_its_version(
    repository: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = Session.run

    def fail_on_three_rows(self: Session, batch: np.ndarray, options: Any = None) -> np.ndarray:
        if len(batch) == 3:
            raise RuntimeError("onnxruntime said no")
        return original(self, batch, options)

    monkeypatch.setattr(Session, "run", fail_on_three_rows)  # before the models load
    dp, metrics = make_plane(repository)
    with pytest.raises(InferenceFailed, match="inference failed in model 'course' version 1"):
        infer(dp, "course", InferenceRequest(None, [features(Values(COURSE * 3), [3, 2])], None))
    text = metrics.render().decode()
    assert 'logitserve_inference_failures_total{model="course",version="1"} 1.0' in text
    assert infer(dp, "course", InferenceRequest(None, [features(Values(COURSE))], None)).outputs


def test_v1_scores_rows_it_fitted_itself_through_the_same_data_plane(
    plane: tuple[DataPlane, Metrics],
) -> None:
    dp, metrics = plane
    model = dp.model("course")
    scored = asyncio.run(dp.score(model, np.array([COURSE], np.float32)))
    assert scored.logits.tolist() == [[165.0, -531.0, 900.0]]
    assert np.round(scored.probabilities).tolist() == [[1.0, 0.0, 1.0]]
    assert 'logitserve_queue_seconds_count{model="course",version="1"}' in metrics.render().decode()


def test_an_answer_over_the_response_limit_is_refused_before_the_model_runs(
    repository: Path,
) -> None:
    """As gRPC builds it (raw contents, every output): the bound is the data plane's, so
    every transport has it. The course model's rows answer 3 values per output."""
    small, _ = make_plane(repository, max_response_bytes=1000)
    raw = RawBytes(np.array(COURSE * 8, "<f4").tobytes(), "raw_input_contents")
    eight = RequestTensor("features", "FP32", [8, 2], raw)
    with pytest.raises(PayloadTooLarge) as refused:
        infer(small, "course", InferenceRequest(None, [eight], None))
    message = refused.value.message
    assert "over the limit of 1000 bytes (--max-response-bytes): send at most 6 rows" in message
    assert "outputs[].parameters.classification" in message
    # The top class alone fits: 8 rows of one classification string each.
    top = (RequestedOutput("probabilities", classification=1),)
    assert infer(small, "course", InferenceRequest(None, [eight], top)).outputs[0].shape == [8, 1]
