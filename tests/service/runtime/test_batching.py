"""Dynamic batching: requests that arrive together share one call, each gets its own rows
back, a lone request never waits, and a failing call fails only the requests inside it."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest

from service.runtime.batching import Batcher


class Model:
    """Two outputs, its input doubled and plus one; records every call: its rows and the
    thread it ran on."""

    def __init__(self, fail_on: int | None = None, row_cost_s: float = 0.0) -> None:
        self.calls: list[int] = []
        self.threads: list[int] = []
        self.fail_on = fail_on
        self.row_cost_s = row_cost_s

    def __call__(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.calls.append(len(rows))
        self.threads.append(threading.get_ident())
        started = time.thread_time()
        while time.thread_time() - started < self.row_cost_s * len(rows):
            pass  # CPU work, as a model does: the batcher times calls by CPU time
        if self.fail_on is not None and len(self.calls) == self.fail_on:
            raise RuntimeError("the model failed")
        return rows * 2.0, rows + 1.0


def batcher(model: Model, executor: Executor | None, **over: Any) -> Batcher:
    options: dict[str, Any] = {
        "enabled": True,
        "max_batch_rows": 256,
        "max_wait_s": 0.0,
        "others_in_flight": lambda: False,
        "observe_batch": lambda rows, input_s, infer_s, output_s: None,
    }
    return Batcher(model, executor, **(options | over))


def rows(first: int, n: int = 1) -> np.ndarray:
    return np.arange(first, first + n, dtype=np.float32).reshape(n, 1)


def run(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(main())


@pytest.fixture(params=["thread", "event loop"])
def executor(request: pytest.FixtureRequest) -> Any:
    if request.param == "event loop":
        yield None
        return
    with ThreadPoolExecutor(1) as pool:
        yield pool


def test_a_lone_request_runs_at_once_in_a_call_of_its_own(executor: Executor | None) -> None:
    model = Model()

    async def main() -> None:
        result = await batcher(model, executor).submit(rows(3, 2))
        doubled, plus_one = result.outputs
        assert doubled.tolist() == [[6.0], [8.0]]
        assert plus_one.tolist() == [[4.0], [5.0]]

    run(main)
    assert model.calls == [2]


def test_requests_that_arrive_together_share_a_call_and_get_their_own_rows_back(
    executor: Executor | None,
) -> None:
    model = Model()

    async def main() -> None:
        b = batcher(model, executor)
        results = await asyncio.gather(*(b.submit(rows(10 * i, i)) for i in range(1, 6)))
        for i, result in enumerate(results, start=1):
            doubled, plus_one = result.outputs
            assert doubled.ravel().tolist() == [2.0 * v for v in range(10 * i, 11 * i)]
            assert plus_one.ravel().tolist() == [v + 1.0 for v in range(10 * i, 11 * i)]

    run(main)
    assert model.calls == [15]  # 1 + 2 + 3 + 4 + 5 rows, one call


def test_a_call_never_exceeds_the_row_limit_and_a_larger_request_runs_whole(
    executor: Executor | None,
) -> None:
    model = Model()

    async def main() -> None:
        b = batcher(model, executor, max_batch_rows=4)
        await asyncio.gather(*(b.submit(rows(i, 3)) for i in range(3)), b.submit(rows(0, 9)))

    run(main)
    assert model.calls == [3, 3, 3, 9]


def test_a_failing_call_fails_its_requests_and_the_next_call_still_runs(
    executor: Executor | None,
) -> None:
    model = Model(fail_on=1)

    async def main() -> None:
        b = batcher(model, executor, max_batch_rows=2)
        outcomes = await asyncio.gather(
            *(b.submit(rows(i)) for i in range(4)), return_exceptions=True
        )
        assert [type(o).__name__ for o in outcomes[:2]] == ["RuntimeError", "RuntimeError"]
        assert [o.outputs[0].item() for o in outcomes[2:]] == [4.0, 6.0]  # type: ignore[union-attr]

    run(main)
    assert model.calls == [2, 2]


def test_with_batching_off_every_request_is_its_own_call(executor: Executor | None) -> None:
    model = Model()

    async def main() -> None:
        b = batcher(model, executor, enabled=False)
        await asyncio.gather(*(b.submit(rows(i)) for i in range(3)))

    run(main)
    assert model.calls == [1, 1, 1]


def test_the_call_runs_on_the_executor_or_without_one_on_the_event_loop(
    executor: Executor | None,
) -> None:
    model = Model()

    async def main() -> None:
        await batcher(model, executor).submit(rows(1))

    run(main)
    on_the_loop = model.threads == [threading.get_ident()]  # asyncio.run uses this thread
    assert on_the_loop is (executor is None)


@pytest.mark.parametrize("others_in_flight", [True, False])
def test_max_wait_holds_a_batch_open_only_while_others_are_in_flight(
    others_in_flight: bool,
) -> None:
    model = Model()

    async def main() -> None:
        b = batcher(model, None, max_wait_s=0.2, others_in_flight=lambda: others_in_flight)

        async def late() -> None:
            await asyncio.sleep(0.02)
            await b.submit(rows(2))

        await asyncio.gather(b.submit(rows(1)), late())

    run(main)
    assert model.calls == ([2] if others_in_flight else [1, 1])


def test_calls_expected_to_be_short_run_on_the_loop_once_the_model_has_been_timed() -> None:
    model = Model(row_cost_s=0.00025)  # 0.25 ms of CPU per row
    loop_thread = threading.get_ident()  # asyncio.run uses this thread

    async def main() -> None:
        b = batcher(model, pool, inline_s=0.002)
        for n in (1, 2, 4, 32, 1):  # unknown: thread; 0.5 ms; 1 ms; 8 ms: thread; 0.25 ms
            await b.submit(rows(0, n))

    with ThreadPoolExecutor(1) as pool:
        run(main)
    on_the_loop = [thread == loop_thread for thread in model.threads]
    assert on_the_loop == [False, True, True, False, True]


def test_without_an_inline_budget_every_call_goes_to_the_thread() -> None:
    model = Model()

    async def main() -> None:
        b = batcher(model, pool, inline_s=0.0)
        for _ in range(3):
            await b.submit(rows(0))

    with ThreadPoolExecutor(1) as pool:
        run(main)
    assert threading.get_ident() not in model.threads
