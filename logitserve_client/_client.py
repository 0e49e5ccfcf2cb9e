"""The synchronous client."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import Any, TypeVar

import httpx
import numpy as np

from logitserve_client import _calls, _v2
from logitserve_client._calls import Call, Image, Instances
from logitserve_client._errors import transport_error
from logitserve_client._exchange import (
    default_headers,
    request_options,
    result,
    wait_before_retry,
)
from logitserve_client._results import (
    InferResult,
    ModelInfo,
    ModelSummary,
    Prediction,
    Predictions,
)
from logitserve_client._retry import RetryPolicy
from logitserve_client._v2 import InputTensor

T = TypeVar("T")


class Client:
    """A logitserve server, from Python.

        with Client("http://127.0.0.1:8000", api_key=None) as client:
            client.predict("tshirt", [{"price": 19.5, "shipping_cost": 4, ...}]).labels

    `timeout` (seconds, or an `httpx.Timeout`) bounds each attempt; a 503 is retried up to
    `retries` times, after the server's Retry-After (up to `max_retry_wait` seconds) or a
    growing pause, and a 429 that carries Retry-After likewise. `transport` replaces the
    network (an `httpx.MockTransport` in tests).
    """

    def __init__(
        self,
        url: str = "http://127.0.0.1:8000",
        *,
        api_key: str | None = None,
        timeout: float | httpx.Timeout = 10.0,
        retries: int = 3,
        max_retry_wait: float = 30.0,
        headers: dict[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._http = httpx.Client(
            base_url=url,
            timeout=timeout,
            headers=default_headers(api_key, headers),
            transport=transport,
        )
        self._policy = RetryPolicy(retries=retries, max_wait=max_retry_wait)
        self._inputs: dict[tuple[str, str | None], InputTensor] = {}

    # -- models -------------------------------------------------------------------------------
    def models(self) -> list[ModelSummary]:
        """Every model the server knows, ready or not (with the reason)."""
        return self._send(_calls.list_models())

    def model(self, name: str, version: int | None = None) -> ModelInfo:
        """A model's task, labels, input, versions and held-out metrics."""
        return self._send(_calls.model_info(name, version))

    def ready(self, model: str | None = None, version: int | None = None) -> bool:
        """Whether the server (or one model) is ready to serve; never retried."""
        return self._send(_calls.ready(model, version))

    # -- v1 predictions -----------------------------------------------------------------------
    def predict(
        self,
        model: str,
        instances: Instances,
        *,
        version: int | None = None,
        top_k: int | None = None,
        threshold: float | None = None,
    ) -> Predictions:
        """Rows in: a numpy array (first axis: rows), lists, or dicts of features (one dict is
        one row). Pixels are 0-255, light on dark; features in natural units."""
        return self._send(_calls.predict(model, instances, version, top_k, threshold))

    def predict_one(
        self,
        model: str,
        instance: Any,
        *,
        version: int | None = None,
        top_k: int | None = None,
        threshold: float | None = None,
    ) -> Prediction:
        """One row (a list, a 1-row-shaped array, or a dict of features): its prediction."""
        return self.predict(
            model, [instance], version=version, top_k=top_k, threshold=threshold
        ).predictions[0]

    def predict_images(
        self,
        model: str,
        images: Image | Iterable[Image],
        *,
        version: int | None = None,
        top_k: int | None = None,
        threshold: float | None = None,
    ) -> Predictions:
        """PNG or JPEG photos or scans (paths, bytes or open files), one or several."""
        return self._send(_calls.predict_images(model, images, version, top_k, threshold))

    # -- v2 inference -------------------------------------------------------------------------
    def infer(
        self,
        model: str,
        inputs: np.ndarray,
        *,
        version: int | None = None,
        outputs: Sequence[str] = ("probabilities",),
        classification: int = 0,
        binary: bool = True,
        request_id: str | None = None,
    ) -> InferResult:
        """The Open Inference Protocol, binary tensors by default: `inputs` in the model's
        input shape with the batch first, converted to its datatype (float pixels are rounded;
        a conversion that would change a value is refused)."""
        key = (model, None if version is None else str(version))
        if key not in self._inputs:
            self._inputs[key] = self._send(_v2.input_tensor(model, version))
        call = _v2.infer(
            model,
            inputs,
            self._inputs[key],
            version,
            outputs,
            classification,
            binary,
            request_id,
        )
        return self._send(call)

    # -- plumbing -----------------------------------------------------------------------------
    def _send(self, call: Call[T]) -> T:
        for attempt in itertools.count():
            try:
                response = self._http.request(call.method, call.path, **request_options(call))
            except httpx.TransportError as error:
                raise transport_error(error) from error
            if response.status_code in call.expect:
                return result(call, response)
            time.sleep(wait_before_retry(call, response, attempt, self._policy))
        raise AssertionError("unreachable")

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
