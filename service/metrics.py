"""Prometheus metrics: requests, latency split into queue / inference / total, batch sizes,
and the execution provider each model version really uses.

Label children are cached: `labels()` costs a lock and a dict lookup per call, which is
measurable on the hot path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

if TYPE_CHECKING:
    from service.registry import ModelStatus

LATENCY_BUCKETS = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
)
BATCH_BUCKETS = tuple(float(2**i) for i in range(14))  # 1 .. 8192 rows


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self._requests = Counter(
            "logitserve_requests",
            "HTTP requests by model, version, endpoint and status",
            ["model", "version", "endpoint", "status"],
            registry=r,
        )
        self._total = Histogram(
            "logitserve_request_seconds",
            "Time from request start to response, by endpoint",
            ["model", "endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self._queue = Histogram(
            "logitserve_queue_seconds",
            "Time a request waited for its batch to start",
            ["model", "version"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self._inference = Histogram(
            "logitserve_inference_seconds",
            "Time of the batched call a request was part of (ONNX Runtime and activation)",
            ["model", "version"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self._batch = Histogram(
            "logitserve_batch_rows",
            "Rows per ONNX Runtime call (dynamic batching)",
            ["model", "version"],
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self._ready = Gauge(
            "logitserve_model_ready",
            "1 if a model version is ready, with the provider in use",
            ["model", "version", "provider"],
            registry=r,
        )
        self._cpu_below = Gauge(
            "logitserve_model_cpu_below_rows",
            "For a model version on CUDA, calls with fewer rows run on the CPU (0: none do)",
            ["model", "version"],
            registry=r,
        )
        self.inflight = Gauge("logitserve_inflight_requests", "Requests in flight", registry=r)
        self._rejected = Counter(
            "logitserve_rejected",
            "Requests refused before any work, by reason",
            ["reason"],
            registry=r,
        )
        self._failures = Counter(
            "logitserve_inference_failures",
            "ONNX Runtime calls that raised",
            ["model", "version"],
            registry=r,
        )
        self._cache: dict[tuple[str, ...], object] = {}

    def _child(self, metric: Counter | Histogram, *labels: str) -> Any:
        key = (metric._name, *labels)
        child = self._cache.get(key)
        if child is None:
            child = self._cache[key] = metric.labels(*labels)
        return child

    def request(self, model: str, version: str, endpoint: str, status: int, seconds: float) -> None:
        self._child(self._requests, model, version, endpoint, str(status)).inc()
        self._child(self._total, model, endpoint).observe(seconds)

    def inference(self, model: str, version: str, queue_s: float, infer_s: float) -> None:
        self._child(self._queue, model, version).observe(queue_s)
        self._child(self._inference, model, version).observe(infer_s)

    def batch_observer(self, model: str, version: str) -> Callable[[int], None]:
        return self._batch.labels(model, version).observe

    def failure(self, model: str, version: str) -> None:
        self._child(self._failures, model, version).inc()

    def rejected(self, reason: str) -> None:
        self._child(self._rejected, reason).inc()

    def set_models(self, models: Mapping[str, ModelStatus]) -> None:
        self._ready.clear()
        self._cpu_below.clear()
        for name, status in models.items():
            for number, version in status.versions.items():
                provider = version.model.session.provider if version.model else "none"
                self._ready.labels(name, str(number), provider).set(1 if version.model else 0)
                if version.model is not None:
                    below = version.model.session.cpu_below_rows
                    self._cpu_below.labels(name, str(number)).set(below)

    def render(self) -> bytes:
        return generate_latest(self.registry)
