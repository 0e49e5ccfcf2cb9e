"""Reading a disk that may not answer: only regular files are opened, and every blocking call
runs on a thread of its own with a deadline.

A FIFO where a model file should be blocks `open` until a writer comes; a read from an NFS
mount whose server went away blocks in the kernel, for good. Neither may hold the event loop,
the registry, or the process at exit. So a call runs on a daemon thread (a thread pool's
would be joined at exit, and SIGTERM would wait forever), the caller waits for it at most
`timeout_s`, and a call that never returns costs one sleeping thread: while it hangs, further
calls for the same key (a folder) fail at once instead of piling up more threads, and
`max_abandoned` bounds how many such threads there may be.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


class DiskTimeout(OSError):
    """The disk did not answer in time (or an earlier call for the same thing still hangs)."""


class NotARegularFile(OSError):
    """A FIFO, a device or a socket where a file should be: never opened for reading."""


class TooLarge(OSError):
    """More bytes than the caller's limit."""


def open_regular_file(path: Path, limit: int) -> tuple[int, os.stat_result]:
    """A descriptor of the regular file at path (links followed), and its fstat; the caller
    closes it. NotARegularFile, TooLarge (over `limit` bytes), or the OSError of the open.

    Opened without blocking (a FIFO's open would wait for a writer), then checked with fstat
    on the descriptor itself, so a file swapped between a check and the open cannot slip by.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotARegularFile(f"{_kind(info.st_mode)}, not a regular file")
        if info.st_size > limit:
            raise TooLarge(f"{path.name} is larger than {limit} bytes")
    except BaseException:
        os.close(fd)
        raise
    return fd, info


def read_regular_file(path: Path, limit: int) -> bytes:
    """The bytes of the regular file at path (links followed), at most `limit` of them."""
    fd, _ = open_regular_file(path, limit)
    try:
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(limit + 1 - size, 16 * 1024 * 1024))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    if size > limit:  # grew since fstat
        raise TooLarge(f"{path.name} is larger than {limit} bytes")
    return b"".join(chunks)


def _kind(mode: int) -> str:
    for test, kind in (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a device"),
        (stat.S_ISBLK, "a device"),
    ):
        if test(mode):
            return kind
    return "something else"


class Disk:
    """Runs blocking filesystem calls off the event loop, each waited for at most `timeout_s`."""

    def __init__(self, timeout_s: float, max_abandoned: int = 16) -> None:
        self.timeout_s = timeout_s
        self._max_abandoned = max_abandoned
        self._lock = threading.Lock()
        self._calls = itertools.count()
        self._running: set[int] = set()
        self._abandoned: dict[int, tuple[str, float]] = {}  # call -> (key, when it started)

    async def call(self, key: str, fn: Callable[..., T], *args: object) -> T:
        """fn(*args) on a daemon thread; DiskTimeout if it takes longer than the timeout, or
        if a call for `key` that timed out before still has not returned."""
        started = time.monotonic()
        with self._lock:
            stuck = [since for k, since in self._abandoned.values() if k == key]
            if stuck:
                raise DiskTimeout(f"no answer to a read started {started - min(stuck):.0f} s ago")
            if len(self._abandoned) >= self._max_abandoned:
                raise DiskTimeout(f"no answer to {len(self._abandoned)} earlier reads")
            call = next(self._calls)
            self._running.add(call)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()

        def run() -> None:
            result: T | None = None
            error: BaseException | None = None
            try:
                result = fn(*args)
            except BaseException as exc:  # handed to the caller, whatever it is
                error = exc
            with self._lock:  # done before the caller hears back, so it may call again
                self._running.discard(call)
                self._abandoned.pop(call, None)
            settle_from_thread(loop, future, result, error)

        threading.Thread(target=run, name=f"logitserve-disk {key[-40:]}", daemon=True).start()
        # asyncio.wait, not wait_for: Python 3.11's wait_for swallows a cancellation that
        # arrives as the result does, and a watcher cancelled at shutdown would run on.
        try:
            await asyncio.wait({future}, timeout=self.timeout_s)
        finally:
            if not future.done():
                future.cancel()  # nobody waits for it any more; the thread's answer is dropped
                with self._lock:
                    if call in self._running:
                        self._abandoned[call] = (key, started)
        if future.cancelled():
            raise DiskTimeout(f"no answer within {self.timeout_s:g} s (a hung mount?)")
        return future.result()


def settle_from_thread(
    loop: asyncio.AbstractEventLoop,
    future: asyncio.Future[T],
    result: T | None,
    error: BaseException | None,
) -> None:
    """From a worker thread: give `future` its result or error on `loop`, unless its caller
    stopped waiting or the loop has closed (runtime/load_slots.py hands loads back alike)."""

    def apply() -> None:
        if future.done():  # the caller stopped waiting
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    with contextlib.suppress(RuntimeError):  # the loop closed while the disk hung
        loop.call_soon_threadsafe(apply)
