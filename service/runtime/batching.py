"""Dynamic batching: concurrent requests for one model version share one ONNX Runtime call.

While a call runs on the inference thread, the event loop keeps reading requests; when the
call returns, everything that queued up meanwhile goes into the next call (up to
`max_batch_rows`; a larger request runs whole, alone). So a lone request never waits, and
under load the per-call overhead of ONNX Runtime and of the thread hop is paid once per
batch instead of once per request. `max_wait_s` optionally holds a batch open a little
longer, but only while other requests are in flight and could still join it.

A call expected to take less than `inline_s` (its rows times the CPU time per row of the
model's recent calls) runs on the event loop itself: on one core there is nothing to overlap
it with, and the hop to a thread and back is pure cost. Requests then wait in the sockets
while it runs, and batches form from them all the same. Longer calls, and every call
before the first has been timed, go to the thread; without an executor every call runs on
the loop.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass

import numpy as np

# One call for a batch of rows: arrays whose first axis is those rows (logits, probabilities).
Run = Callable[[np.ndarray], tuple[np.ndarray, ...]]
# Told of every call: (rows, s gathering them, s of the call, s handing the rows back).
ObserveBatch = Callable[[int, float, float, float], None]


# Built for every request: slots, not frozen (a frozen dataclass costs ~1 us to build here).
@dataclass(slots=True)
class BatchResult:
    outputs: tuple[np.ndarray, ...]  # this request's rows of each output of the call
    queue_s: float  # from arrival at the batcher to the start of its call
    infer_s: float  # the call itself (ONNX Runtime, then the activation)


@dataclass
class _Job:
    rows: np.ndarray
    future: asyncio.Future[BatchResult]
    arrived: float


class Batcher:
    def __init__(
        self,
        run: Run,
        executor: Executor | None,
        *,
        inline_s: float = 0.0,
        enabled: bool,
        max_batch_rows: int,
        max_wait_s: float,
        others_in_flight: Callable[[], bool],
        observe_batch: ObserveBatch,
    ) -> None:
        self._run = run
        self._executor = executor
        self._inline_s = inline_s
        # CPU seconds per row of the recent calls; unknown until a first call (on the thread).
        self._row_s = math.inf
        self._enabled = enabled
        self._max_batch_rows = max_batch_rows
        self._max_wait_s = max_wait_s
        self._others_in_flight = others_in_flight
        self._observe_batch = observe_batch
        self._queue: deque[_Job] = deque()
        self._draining = False
        self._task: asyncio.Task[None] | None = None  # held so the loop cannot drop it

    async def submit(self, rows: np.ndarray) -> BatchResult:
        """The outputs of `run` for `rows` (already validated against the model's input)."""
        loop = asyncio.get_running_loop()
        if not self._enabled:
            started = time.perf_counter()
            outputs = await self._call(rows)
            infer_s = time.perf_counter() - started
            self._observe_batch(len(rows), 0.0, infer_s, 0.0)
            return BatchResult(outputs, 0.0, infer_s)
        job = _Job(rows, loop.create_future(), time.perf_counter())
        self._queue.append(job)
        if not self._draining:
            self._draining = True
            self._task = loop.create_task(self._drain())
        return await job.future

    async def _call(self, rows: np.ndarray) -> tuple[np.ndarray, ...]:
        # Calls are timed only where the timing decides something: timing every call
        # measured slower at one connection (BENCHMARKS.md, Process tuning).
        run = self._timed if self._inline_s > 0 else self._run
        if self._on_loop(len(rows)):
            return run(rows)
        return await asyncio.get_running_loop().run_in_executor(self._executor, run, rows)

    def _on_loop(self, rows: int) -> bool:
        return self._executor is None or rows * self._row_s < self._inline_s

    def _timed(self, rows: np.ndarray) -> tuple[np.ndarray, ...]:
        # The CPU time of this thread, not the wall clock: on a shared core a call on the
        # other thread takes longer by the wall clock, not by the work it does.
        started = time.thread_time()
        outputs = self._run(rows)
        row_s = (time.thread_time() - started) / max(len(rows), 1)
        self._row_s = row_s if self._row_s == math.inf else 0.8 * self._row_s + 0.2 * row_s
        return outputs

    def _take(self) -> list[_Job]:
        jobs = [self._queue.popleft()]
        rows = len(jobs[0].rows)
        while self._queue and rows + len(self._queue[0].rows) <= self._max_batch_rows:
            job = self._queue.popleft()
            jobs.append(job)
            rows += len(job.rows)
        return jobs

    async def _drain(self) -> None:
        try:
            held_the_loop = False
            while self._queue:
                if self._max_wait_s > 0 and self._others_in_flight():
                    await asyncio.sleep(self._max_wait_s)
                elif held_the_loop:
                    # The last call ran on the loop and held up everything else: let the
                    # loop answer what came in meanwhile (and read requests that can still
                    # join the next batch). A call on the thread has yielded already.
                    await asyncio.sleep(0)
                jobs = [j for j in self._take() if not j.future.done()]
                if not jobs:
                    continue
                gathering = time.perf_counter()
                batch = jobs[0].rows if len(jobs) == 1 else np.concatenate([j.rows for j in jobs])
                started = time.perf_counter()
                held_the_loop = self._on_loop(len(batch))
                try:
                    outputs = await self._call(batch)
                except Exception as exc:
                    for job in jobs:
                        if not job.future.done():
                            job.future.set_exception(exc)
                    continue
                returned = time.perf_counter()
                infer_s = returned - started
                offset = 0
                for job in jobs:
                    n = len(job.rows)
                    if not job.future.done():
                        part = tuple([output[offset : offset + n] for output in outputs])
                        job.future.set_result(BatchResult(part, started - job.arrived, infer_s))
                    offset += n
                self._observe_batch(
                    len(batch), started - gathering, infer_s, time.perf_counter() - returned
                )
        finally:
            self._draining = False


@dataclass(frozen=True)
class BatchOptions:
    """How every model version's calls are batched and where they run."""

    executor: Executor | None
    enabled: bool
    max_batch_rows: int
    max_wait_s: float
    inline_s: float
    others_in_flight: Callable[[], bool]  # whether requests besides the caller's are in flight

    def batcher(self, run: Run, observe_batch: ObserveBatch) -> Batcher:
        return Batcher(
            run,
            self.executor,
            inline_s=self.inline_s,
            enabled=self.enabled,
            max_batch_rows=self.max_batch_rows,
            max_wait_s=self.max_wait_s,
            others_in_flight=self.others_in_flight,
            observe_batch=observe_batch,
        )
