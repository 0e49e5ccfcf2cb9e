"""Model versions load a few at a time, each on a thread of its own, waited for at most the
load deadline.

A load is CPU work that Python cannot interrupt (ONNX Runtime creating a session), so a slow
one must not hold up the others: loads run side by side, `slots` at once (each may take up to
the load check's memory limit while it runs), and a caller waits for its own at most
`timeout_s` (and a moment for the load to report its own reason). A load past its deadline is
abandoned, not stopped: its thread ends by itself soon after, since the load check's process
is killed at the deadline and the warm-up is terminated there too; until it ends it keeps its
slot, so abandoned loads can never be more than `slots` threads.

Daemon threads, not a thread pool's: a pool's threads are joined at exit, and a load still
running would hold up SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from service.repository.disk import settle_from_thread

T = TypeVar("T")

# How long past the deadline a caller waits for the load to say why it stopped.
REPORT_S = 1.0


class LoadTimeout(Exception):
    """A load did not finish within its deadline (and its thread was abandoned)."""


class LoadSlots:
    def __init__(self, slots: int, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._slots = slots
        # Made on the loop that uses it (tests run several loops, one after the other).
        self._free: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None
        self._lock = threading.Lock()
        self.running = 0  # threads loading now, abandoned ones included

    async def run(self, name: str, fn: Callable[..., T], *args: object) -> T:
        """fn(*args, deadline) on a thread of its own once a slot is free, `deadline` being
        time.monotonic() + timeout_s; LoadTimeout if it does not return by then."""
        loop = asyncio.get_running_loop()
        if self._free is None or self._free[0] is not loop:
            self._free = (loop, asyncio.Semaphore(self._slots))
        free = self._free[1]
        await free.acquire()
        future: asyncio.Future[T] = loop.create_future()
        deadline = time.monotonic() + self.timeout_s

        def load() -> None:
            result: T | None = None
            error: BaseException | None = None
            try:
                result = fn(*args, deadline)
            except BaseException as exc:  # handed to the caller, whatever it is
                error = exc
            with self._lock:
                self.running -= 1
            settle_from_thread(loop, future, result, error)
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(free.release)

        with self._lock:
            self.running += 1
        threading.Thread(target=load, name=f"logitserve-load {name[-60:]}", daemon=True).start()
        try:
            await asyncio.wait({future}, timeout=self.timeout_s + REPORT_S)
        finally:
            if not future.done():
                future.cancel()  # nobody waits for it any more; its result is dropped
        if future.cancelled():
            raise LoadTimeout(f"it did not load and warm up within {self.timeout_s:g} s")
        return future.result()
