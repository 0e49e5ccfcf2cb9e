"""`--workers N`: N processes, each a whole server (server.Server: HTTP and gRPC over a core of
its own), sharing one HTTP socket bound here and one gRPC port that each binds with
SO_REUSEPORT; the kernel spreads connections among them.

uvicorn's own supervisor runs uvicorn's HTTP server alone, so this one is ours, and does no
more than a supervisor must: start the workers, replace one that dies after it started, stop
everything when one cannot start (a port taken: every replacement would fail alike), and on
SIGINT or SIGTERM ask each worker to drain and wait for it, within the grace period."""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
from multiprocessing.process import BaseProcess

import uvicorn

from service import logs
from service.settings import Settings

log = logging.getLogger("logitserve")

STARTUP_FAILURE = 3  # as uvicorn's: the worker never served


def supervise(settings: Settings, loop: str) -> int:
    """Run `settings.workers` workers until a signal; the exit status."""
    bound = uvicorn.Config("service.app:create_app", host=settings.host, port=settings.port)
    sockets = [bound.bind_socket()]
    spawn = multiprocessing.get_context("spawn")  # no state of this process leaks into them
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())

    def start() -> BaseProcess:
        worker = spawn.Process(target=_work, args=(settings, loop, sockets), daemon=False)
        worker.start()
        return worker

    workers = [start() for _ in range(settings.workers)]
    log.info("started workers", extra={"workers": [w.pid for w in workers]})
    status = 0
    while not stop.wait(0.5):
        for i, worker in enumerate(workers):
            if worker.is_alive():
                continue
            if worker.exitcode == STARTUP_FAILURE:
                log.error("a worker could not start: stopping", extra={"pid": worker.pid})
                status = STARTUP_FAILURE
                stop.set()
                break
            log.warning("a worker died: starting another", extra={"exit": worker.exitcode})
            workers[i] = start()
    for worker in workers:
        if worker.is_alive() and worker.pid is not None:
            os.kill(worker.pid, signal.SIGTERM)
    for worker in workers:
        worker.join(settings.graceful_shutdown_s + 5)
        if worker.is_alive():
            worker.kill()
            worker.join()
    for sock in sockets:
        sock.close()
    return status


def _work(settings: Settings, loop: str, sockets: list[socket.socket]) -> None:
    """One worker process: a whole server on the supervisor's socket."""
    from service.server import Server, StartupError  # the supervisor never needs the app

    logs.configure(settings.log_level)
    server = Server(settings, loop=loop)
    try:
        server.run(sockets)
    except StartupError as exc:
        log.error(str(exc))
        sys.exit(STARTUP_FAILURE)
    if not server.started:
        sys.exit(STARTUP_FAILURE)
