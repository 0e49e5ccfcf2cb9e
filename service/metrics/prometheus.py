"""Prometheus metrics: requests, latency split into queue / inference / total, batch sizes,
and the execution provider each model version really uses.

Plain values in, nothing of the service's own types: the registry reports its models as
rows, and each loaded version gets its own `VersionMetrics`. Label children on the hot path
are looked up once and kept (`labels()` costs a lock and a dict lookup, which is measurable
there).

With several worker processes (`--workers N`), `python -m service` points
PROMETHEUS_MULTIPROC_DIR at a fresh folder before they start: prometheus-client then keeps
every value in a file per process, and `/metrics`, whichever worker answers it, adds up all
of them (gauges: the largest of the live workers', but requests in flight, which add up).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from service.metrics.triton_statistics import VersionStatistics

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"  # prometheus-client's own variable

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

# A model version as the readiness gauge sees it: (model, version, provider in use, or None
# when the version is not ready).
ReadyRow = tuple[str, int, str | None, int]
# A model as the routing gauges see it: (model, serving, {version: role}, (canary version,
# share) or None).
RouteRow = tuple[str, bool, dict[int, str], tuple[int, float] | None]


class VersionMetrics:
    """What one model version reports, with its label children bound, and its Triton
    statistics (which, unlike the Prometheus series, start again when the version loads)."""

    __slots__ = ("statistics", "_batch", "_queue", "_inference", "_failures")

    def __init__(self, batch: Any, queue: Any, inference: Any, failures: Any) -> None:
        self.statistics = VersionStatistics()
        self._batch: Callable[[float], None] = batch.observe  # rows per call
        self._queue, self._inference, self._failures = queue, inference, failures

    def observe_batch(self, rows: int, input_s: float, infer_s: float, output_s: float) -> None:
        """One batched call (the batcher's timings: gathering, the call, handing back)."""
        self._batch(rows)
        self.statistics.executed(rows, input_s, infer_s, output_s)

    def call(self, queue_s: float, infer_s: float) -> None:
        """A request's wait for its batch, and the batched call it was part of."""
        self._queue.observe(queue_s)
        self._inference.observe(infer_s)

    def failure(self) -> None:
        self._failures.inc()


class Metrics:
    def __init__(self, inflight: Callable[[], float] | None = None) -> None:
        self.registry = CollectorRegistry()
        self._multiprocess = MULTIPROCESS_DIR in os.environ
        self._gauge_rows: dict[str, set[tuple[str, ...]]] = {}  # label sets set, per gauge
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
        # Both children of a request's labels, found with one lookup.
        self._request_children: dict[tuple[str, str, str, int], tuple[Any, Any]] = {}
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
            multiprocess_mode="livemax",
        )
        self._cpu_below = Gauge(
            "logitserve_model_cpu_below_rows",
            "For a model version on CUDA, calls with fewer rows run on the CPU (0: none do)",
            ["model", "version"],
            registry=r,
            multiprocess_mode="livemax",
        )
        self._serving = Gauge(
            "logitserve_model_serving",
            "1 if a model answers requests without a version, 0 if it is reported but does not",
            ["model"],
            registry=r,
            multiprocess_mode="livemax",
        )
        self._role = Gauge(
            "logitserve_model_version_role",
            "1 for each loaded version's role: default, canary, candidate, promoted or older",
            ["model", "version", "role"],
            registry=r,
            multiprocess_mode="livemax",
        )
        self._canary = Gauge(
            "logitserve_canary_share",
            "The share of requests without a version that a canary version answers",
            ["model", "version"],
            registry=r,
            multiprocess_mode="livemax",
        )
        self._inflight_gauge = Gauge(
            "logitserve_inflight_requests",
            "Requests in flight",
            registry=r,
            multiprocess_mode="livesum",
        )
        self._inflight = inflight
        if inflight is not None and not self._multiprocess:
            self._inflight_gauge.set_function(inflight)
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

    def request(self, model: str, version: str, endpoint: str, status: int, seconds: float) -> None:
        key = (model, version, endpoint, status)
        children = self._request_children.get(key)
        if children is None:
            children = self._request_children[key] = (
                self._requests.labels(model, version, endpoint, str(status)),
                self._total.labels(model, endpoint),
            )
        count, latency = children
        count.inc()
        latency.observe(seconds)

    def version(self, model: str, version: str) -> VersionMetrics:
        """The metrics of one model version, to be held by the loaded version."""
        return VersionMetrics(
            self._batch.labels(model, version),
            self._queue.labels(model, version),
            self._inference.labels(model, version),
            self._failures.labels(model, version),
        )

    def rejected(self, reason: str) -> None:
        self._rejected.labels(reason).inc()  # rare: no cache

    def set_models(self, rows: Iterable[ReadyRow]) -> None:
        ready: dict[tuple[str, ...], float] = {}
        cpu_below: dict[tuple[str, ...], float] = {}
        for model, version, provider, cpu_below_rows in rows:
            ready[(model, str(version), provider or "none")] = 1 if provider is not None else 0
            if provider is not None:
                cpu_below[(model, str(version))] = cpu_below_rows
        self._set_all("ready", self._ready, ready)
        self._set_all("cpu_below", self._cpu_below, cpu_below)

    def set_routes(self, rows: Iterable[RouteRow]) -> None:
        serving: dict[tuple[str, ...], float] = {}
        roles: dict[tuple[str, ...], float] = {}
        canaries: dict[tuple[str, ...], float] = {}
        for model, answers, version_roles, canary in rows:
            serving[(model,)] = 1 if answers else 0
            for version, role in version_roles.items():
                roles[(model, str(version), role)] = 1
            if canary is not None:
                canaries[(model, str(canary[0]))] = canary[1]
        self._set_all("serving", self._serving, serving)
        self._set_all("role", self._role, roles)
        self._set_all("canary", self._canary, canaries)

    def _set_all(self, name: str, gauge: Gauge, values: dict[tuple[str, ...], float]) -> None:
        """The gauge's series become exactly `values`. With several processes a series
        cannot be removed (its file stays): one that went away reads 0."""
        if self._multiprocess:
            for gone in self._gauge_rows.get(name, set()) - set(values):
                gauge.labels(*gone).set(0)
            self._gauge_rows[name] = set(values)
        else:
            gauge.clear()
        for labels, value in values.items():
            gauge.labels(*labels).set(value)

    def sample(self) -> None:
        """With several processes, gauges computed on demand are written out (periodically)."""
        if self._multiprocess and self._inflight is not None:
            self._inflight_gauge.set(self._inflight())

    @property
    def multiprocess(self) -> bool:
        return self._multiprocess

    def render(self) -> bytes:
        if not self._multiprocess:
            return generate_latest(self.registry)
        every_worker = CollectorRegistry()
        MultiProcessCollector(every_worker)
        return generate_latest(every_worker)
