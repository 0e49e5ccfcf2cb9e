"""Triton's statistics extension: what each model version has done since it loaded, counted
where the data plane and the batcher already take the time, and reported in Triton's shape
(`GET /v2/models/stats`, gRPC's ModelStatistics).

Per request (`succeeded`, `failed`): success and fail, each a count and nanoseconds, and the
request's share of the work: compute_input (its tensors fitted to the model), queue (waiting
for its batch to start), compute_infer (the batched call it was part of: ONNX Runtime and the
activation), compute_output (its outputs built). Per batched call (`executed`): the
execution count and, per batch size, the same three compute times. `inference_count` counts
rows, as Triton counts each inference in a batch.

Plain numbers on one object per version, changed only on the event loop: a few additions
per request, no lock, no allocation but a new batch size's first entry.
"""

from __future__ import annotations

import time

NS = 1_000_000_000


class VersionStatistics:
    # Seconds are summed as floats and counts kept once where several durations share them
    # (every answered request has a success, queue and compute_infer time): nanoseconds and
    # the per-kind counts are made when the statistics are read, not on every request.
    __slots__ = (
        "inference_count",
        "execution_count",
        "successes",
        "success_s",
        "queue_s",
        "infer_s",
        "timed",
        "input_s",
        "output_s",
        "failures",
        "fail_s",
        "last_call",
        "batches",
    )

    def __init__(self) -> None:
        self.inference_count = 0
        self.execution_count = 0
        self.successes = 0
        self.success_s = self.queue_s = self.infer_s = 0.0
        self.timed = 0  # requests whose input and output were timed here (not v1's)
        self.input_s = self.output_s = 0.0
        self.failures = 0
        self.fail_s = 0.0
        self.last_call = 0.0  # time.perf_counter() of the last batched call, 0: none yet
        # batch size -> [calls, s gathering the rows, s of the calls, s handing them back]
        self.batches: dict[int, list[float]] = {}

    def succeeded(
        self,
        rows: int,
        total_s: float,
        queue_s: float,
        infer_s: float,
        input_s: float | None = None,
        output_s: float = 0.0,
    ) -> None:
        """A request answered. `input_s`: None where the transport fitted the rows and wrote
        the answer itself (v1), outside what is timed here."""
        self.inference_count += rows
        self.successes += 1
        self.success_s += total_s
        self.queue_s += queue_s
        self.infer_s += infer_s
        if input_s is not None:
            self.timed += 1
            self.input_s += input_s
            self.output_s += output_s

    def failed(self, total_s: float) -> None:
        """A request for this version that was refused (bad input) or whose call failed."""
        self.failures += 1
        self.fail_s += total_s

    def executed(self, rows: int, input_s: float, infer_s: float, output_s: float) -> None:
        """One batched call of `rows` rows: gathering them, the call, handing the rows back."""
        self.execution_count += 1
        self.last_call = time.perf_counter()
        entry = self.batches.get(rows)
        if entry is None:
            entry = self.batches[rows] = [0, 0.0, 0.0, 0.0]
        entry[0] += 1
        entry[1] += input_s
        entry[2] += infer_s
        entry[3] += output_s

    def report(self, name: str, version: str) -> dict[str, object]:
        """One entry of Triton's `model_stats` list (JSON; gRPC's ModelStatistics fields)."""
        last_ms = 0
        if self.last_call:
            ago_s = time.perf_counter() - self.last_call
            last_ms = int((time.time() - ago_s) * 1000)
        return {
            "name": name,
            "version": version,
            "last_inference": last_ms,
            "inference_count": self.inference_count,
            "execution_count": self.execution_count,
            "inference_stats": {
                "success": _duration(self.successes, self.success_s),
                "fail": _duration(self.failures, self.fail_s),
                "queue": _duration(self.successes, self.queue_s),
                "compute_input": _duration(self.timed, self.input_s),
                "compute_infer": _duration(self.successes, self.infer_s),
                "compute_output": _duration(self.timed, self.output_s),
                "cache_hit": _duration(0, 0.0),
                "cache_miss": _duration(0, 0.0),
            },
            "response_stats": {},
            "batch_stats": [
                {
                    "batch_size": rows,
                    "compute_input": _duration(int(e[0]), e[1]),
                    "compute_infer": _duration(int(e[0]), e[2]),
                    "compute_output": _duration(int(e[0]), e[3]),
                }
                for rows, e in sorted(self.batches.items())
            ],
            "memory_usage": [],
        }


def _duration(count: int, seconds: float) -> dict[str, int]:
    return {"count": count, "ns": round(seconds * NS)}
