"""Triton's statistics extension: what each model version has done since it loaded, counted
where the data plane and the batcher already take the time, and reported in Triton's shape
(`GET /v2/models/stats`, gRPC's ModelStatistics).

Per request (`succeeded`, `failed`): success and fail, each a count and nanoseconds, and the
request's share of the work: compute_input (its tensors fitted to the model), queue (waiting
for its batch to start), compute_infer (the batched call it was part of: ONNX Runtime and the
activation), compute_output (its outputs built). Per batched call (`executed`): the
execution count and, per batch size, the same three compute times. `inference_count` counts
rows, as Triton counts each inference in a batch.

Plain integers on one object per version, changed only on the event loop: a few additions
per request, no lock, no allocation but a new batch size's first entry.
"""

from __future__ import annotations

import time

NS = 1_000_000_000


class VersionStatistics:
    __slots__ = (
        "inference_count",
        "execution_count",
        "last_inference_ms",
        "success",
        "fail",
        "queue",
        "compute_input",
        "compute_infer",
        "compute_output",
        "batches",
    )

    def __init__(self) -> None:
        self.inference_count = 0
        self.execution_count = 0
        self.last_inference_ms = 0
        # Each duration as [count, ns]: a list, so an update is two in-place additions.
        self.success = [0, 0]
        self.fail = [0, 0]
        self.queue = [0, 0]
        self.compute_input = [0, 0]
        self.compute_infer = [0, 0]
        self.compute_output = [0, 0]
        # batch size -> [input count, input ns, infer count, infer ns, output count, output ns]
        self.batches: dict[int, list[int]] = {}

    def succeeded(
        self,
        rows: int,
        total_s: float,
        queue_s: float,
        infer_s: float,
        input_s: float | None = None,
        output_s: float | None = None,
    ) -> None:
        """A request answered. `input_s`, `output_s`: None where the transport fitted the
        rows or wrote the answer itself (v1), outside what is timed here."""
        self.inference_count += rows
        _add(self.success, total_s)
        _add(self.queue, queue_s)
        _add(self.compute_infer, infer_s)
        if input_s is not None:
            _add(self.compute_input, input_s)
        if output_s is not None:
            _add(self.compute_output, output_s)

    def failed(self, total_s: float) -> None:
        """A request for this version that was refused (bad input) or whose call failed."""
        _add(self.fail, total_s)

    def executed(self, rows: int, input_s: float, infer_s: float, output_s: float) -> None:
        """One batched call of `rows` rows: gathering them, the call, handing the rows back."""
        self.execution_count += 1
        self.last_inference_ms = time.time_ns() // 1_000_000
        entry = self.batches.get(rows)
        if entry is None:
            entry = self.batches[rows] = [0, 0, 0, 0, 0, 0]
        entry[0] += 1
        entry[1] += int(input_s * NS)
        entry[2] += 1
        entry[3] += int(infer_s * NS)
        entry[4] += 1
        entry[5] += int(output_s * NS)

    def report(self, name: str, version: str) -> dict[str, object]:
        """One entry of Triton's `model_stats` list (JSON; gRPC's ModelStatistics fields)."""
        return {
            "name": name,
            "version": version,
            "last_inference": self.last_inference_ms,
            "inference_count": self.inference_count,
            "execution_count": self.execution_count,
            "inference_stats": {
                "success": _duration(self.success),
                "fail": _duration(self.fail),
                "queue": _duration(self.queue),
                "compute_input": _duration(self.compute_input),
                "compute_infer": _duration(self.compute_infer),
                "compute_output": _duration(self.compute_output),
                "cache_hit": {"count": 0, "ns": 0},
                "cache_miss": {"count": 0, "ns": 0},
            },
            "response_stats": {},
            "batch_stats": [
                {
                    "batch_size": rows,
                    "compute_input": {"count": e[0], "ns": e[1]},
                    "compute_infer": {"count": e[2], "ns": e[3]},
                    "compute_output": {"count": e[4], "ns": e[5]},
                }
                for rows, e in sorted(self.batches.items())
            ],
            "memory_usage": [],
        }


def _add(duration: list[int], seconds: float) -> None:
    duration[0] += 1
    duration[1] += int(seconds * NS)


def _duration(duration: list[int]) -> dict[str, int]:
    return {"count": duration[0], "ns": duration[1]}
