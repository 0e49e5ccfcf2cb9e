"""`python -m service --models-dir DIR --host H --port P`: every setting also from LOGITSERVE_*.
`python -m service publish|promote|pin|unpin|canary|load|unload ...`: see commands.py."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator

from pydantic import ValidationError
from pydantic_settings import CliApp

from service import logs
from service.settings import Settings, describe_errors
from service.workers import STARTUP_FAILURE, supervise

# prometheus-client's own variable (metrics.py reads it too).
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
# The lifecycle commands (commands.py), named here so serving never imports them.
COMMANDS = ("publish", "promote", "pin", "unpin", "canary", "load", "unload")


@contextlib.contextmanager
def _metrics_of_every_worker() -> Iterator[None]:
    """prometheus-client's multiprocess mode: each worker keeps its values in files in one
    folder, fresh for this run, and /metrics adds them up (metrics.py)."""
    if os.environ.get(MULTIPROCESS_DIR):
        yield  # the operator's own folder: theirs to clean between runs
        return
    with tempfile.TemporaryDirectory(prefix="logitserve-metrics-") as folder:
        os.environ[MULTIPROCESS_DIR] = folder
        try:
            yield
        finally:
            del os.environ[MULTIPROCESS_DIR]


def _fastest(module: str, fallback: str = "asyncio") -> str:
    try:
        __import__(module)
    except ImportError:
        return fallback
    return module


def _settings(argv: list[str]) -> Settings:
    try:
        return CliApp.run(Settings, cli_args=argv)
    except ValidationError as error:
        # A line per problem, not a traceback (which would also echo the values, secrets too).
        for line in describe_errors(error):
            print(f"python -m service: error: {line}", file=sys.stderr)
        raise SystemExit(2) from None


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in COMMANDS:  # the lifecycle commands: publish, promote, pin, ...
        from service.commands.lifecycle import main as command

        command(argv)
        return
    settings = _settings(argv)
    logs.configure(settings.log_level)
    loop = _fastest("uvloop")
    if settings.workers > 1:
        with _metrics_of_every_worker():
            raise SystemExit(supervise(settings, loop))
    # Imported here: with several workers, the supervisor never needs the app (or numpy,
    # ONNX Runtime and FastAPI), which keeps it small.
    from service.server import Server, StartupError

    try:
        Server(settings, loop=loop).run()
    except StartupError as exc:
        print(f"python -m service: error: {exc}", file=sys.stderr)
        raise SystemExit(STARTUP_FAILURE) from None


if __name__ == "__main__":
    main()
