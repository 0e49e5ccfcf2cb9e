"""`python -m bench.access_log`: what one access-log line costs the event loop, and in all.

The line as it was written before issue 23 (a `logging` call with the request's fields as
`extra`: a LogRecord, service.logs' JsonFormatter, a StreamHandler's lock and a write per
line) against service.edge.access_log (one orjson line, queued; a thread writes batches),
both into a file, as a deployment's stderr would be. "On the caller" is the time the
request's own thread spends; "in all" adds the writer thread's CPU (process CPU time)."""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time

from service.edge.access_log import AccessLog
from service.edge.request_context import RequestContext
from service.logs import JsonFormatter

CTX = RequestContext("3f9b2c1d00000001", False, endpoint="v2_infer", model="mnist", version="1")
PATH = "/v2/models/mnist/infer"


def logging_lines(n: int) -> tuple[float, float]:
    logger = logging.getLogger("bench.access")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    with tempfile.TemporaryFile("w") as out:
        handler = logging.StreamHandler(out)
        handler.setFormatter(JsonFormatter())
        logger.handlers[:] = [handler]
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(n):
            logger.info(
                "request",
                extra={
                    "request_id": CTX.request_id,
                    "method": "POST",
                    "path": PATH[:200].encode("utf-8", "backslashreplace").decode(),
                    "status": 200,
                    "ms": round(0.0012345 * 1000, 3),
                    "model": CTX.model or None,
                    "version": CTX.version or None,
                },
            )
        caller = time.perf_counter() - wall
        total = time.process_time() - cpu
    return caller / n * 1e6, total / n * 1e6


def access_log_lines(n: int) -> tuple[float, float]:
    with tempfile.TemporaryFile("w") as out:
        stderr, sys.stderr = sys.stderr, out
        try:
            log = AccessLog()
            wall, cpu = time.perf_counter(), time.process_time()
            for i in range(n):
                log.write(CTX, "POST", PATH, 200, 0.0012345)
                if i % 256 == 255:
                    time.sleep(0)  # a loop yields between requests; the writer gets its turn
            caller = time.perf_counter() - wall
            log.close()
            total = time.process_time() - cpu
        finally:
            sys.stderr = stderr
    return caller / n * 1e6, total / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.access_log", description=__doc__)
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds; medians")
    args = parser.parse_args()
    runs: dict[str, list[tuple[float, float]]] = {"logging": [], "access_log": []}
    for _ in range(args.rounds):
        runs["logging"].append(logging_lines(args.lines))
        runs["access_log"].append(access_log_lines(args.lines))
    print("| access-log line | on the caller, us | in all (CPU), us |")
    print("|---|---|---|")
    labels = {
        "logging": "logging.info + JsonFormatter (before)",
        "access_log": "service.edge.access_log (now)",
    }
    for name, results in runs.items():
        caller = statistics.median(r[0] for r in results)
        total = statistics.median(r[1] for r in results)
        print(f"| {labels[name]} | {caller:.2f} | {total:.2f} |")


if __name__ == "__main__":
    main()
