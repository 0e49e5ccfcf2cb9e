"""The access log: one JSON line per request, every request, for about a microsecond on the
event loop.

A `logging.LogRecord` per request, formatted on the loop and written with a lock and a
system call each, cost a quarter of the service's CPU on small requests (issue 23). Here the
line is one `orjson.dumps` of a dict whose timestamp prefix is made once a second; lines
queue in a deque (append is atomic) and a thread writes them to standard error in batches,
every `interval_s` or at once past `batch_lines`. The queue is bounded: when standard error
cannot keep up (a full pipe, a stalled collector) lines past `max_pending` are dropped and
counted rather than held, and the writer says how many it dropped. `flush` waits until what
was queued is written (tests, shutdown)."""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections import deque

import orjson

from service.edge.request_context import RequestContext


class AccessLog:
    def __init__(
        self,
        interval_s: float = 0.05,
        batch_lines: int = 512,
        max_pending: int = 65536,
    ) -> None:
        self._interval_s = interval_s
        self._batch_lines = batch_lines
        self._max_pending = max_pending
        self._lines: deque[bytes] = deque()
        self.dropped = 0  # lines not written since the process began: the queue was full
        self._reported = 0
        self._second = -1
        self._prefix = ""
        self._wake = threading.Event()
        self._idle = threading.Condition()
        self._writing = False
        self._closed = False
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def write(
        self, ctx: RequestContext, method: str, path: str, status: int, seconds: float
    ) -> None:
        """Queue the line of one answered request."""
        lines = self._lines
        if len(lines) >= self._max_pending:
            self.dropped += 1
            return
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second = second
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        if len(path) > 200 or not path.isascii():
            path = path[:200].encode("utf-8", "backslashreplace").decode()
        lines.append(
            orjson.dumps(
                {
                    "ts": f"{self._prefix}.{int((now - second) * 1000):03d}Z",
                    "level": "info",
                    "logger": "logitserve.access",
                    "message": "request",
                    "request_id": ctx.request_id,
                    "method": method,
                    "path": path,
                    "status": status,
                    "ms": round(seconds * 1000, 3),
                    "model": ctx.model or None,
                    "version": ctx.version or None,
                },
                option=orjson.OPT_APPEND_NEWLINE,
            )
        )
        if self._thread is None:
            self._start()
        elif len(lines) >= self._batch_lines:
            self._wake.set()

    def flush(self, timeout_s: float = 5.0) -> None:
        """Return once every line queued before the call is written (or `timeout_s` passed)."""
        deadline = time.monotonic() + timeout_s
        with self._idle:
            while self._lines or self._writing:
                self._wake.set()
                if not self._idle.wait(max(0.0, deadline - time.monotonic())):
                    return

    def close(self) -> None:
        """Write what is queued and stop the writer."""
        self.flush()
        self._closed = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="access-log", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(self._interval_s)
            self._wake.clear()
            self._write_queued()
        self._write_queued()  # what came between close's flush and the stop

    def _write_queued(self) -> None:
        lines = self._lines
        with self._idle:
            self._writing = True  # before taking: flush waits for lines taken, not yet written
        batch: list[bytes] = []
        while lines:  # only this thread takes from the queue
            batch.append(lines.popleft())
        dropped = self.dropped
        if dropped != self._reported:
            note = {"level": "warning", "logger": "logitserve.access"}
            note["message"] = f"{dropped - self._reported} access-log lines dropped: stderr is slow"
            batch.append(orjson.dumps(note, option=orjson.OPT_APPEND_NEWLINE))
            self._reported = dropped
        if batch:
            _write(b"".join(batch))
        with self._idle:
            self._writing = False
            self._idle.notify_all()


def _write(data: bytes) -> None:
    stream = sys.stderr
    # stderr closed or gone: the log is lost, not the server.
    with contextlib.suppress(OSError, ValueError):
        raw = getattr(stream, "buffer", None)
        if raw is not None:
            stream.flush()  # text written by the logging handler goes first
            raw.write(data)
            raw.flush()
        else:
            stream.write(data.decode())
            stream.flush()
