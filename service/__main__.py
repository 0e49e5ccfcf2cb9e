"""`logitserve` (also `python -m service`): `--models-dir DIR --host H --port P` serves, every
setting also from LOGITSERVE_*; `logitserve COMMAND ...` runs a lifecycle command
(commands/lifecycle.py): publish, promote, pin, unpin, canary, load, unload, list."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator

from pydantic import ValidationError
from pydantic_settings import CliApp

from service import logs
from service.commands.lifecycle import ALIASES, COMMANDS, summary
from service.settings import PROG, Settings, cli_source, describe_errors
from service.workers import STARTUP_FAILURE, supervise

# prometheus-client's own variable (metrics.py reads it too).
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
DESCRIPTION = (
    "Serve the model repository over HTTP (v1 for people, v2 the Open Inference Protocol) and "
    "gRPC.\nEvery option is also an environment variable: LOGITSERVE_ and its name."
)


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
        source = cli_source(f"{DESCRIPTION}\n\n{summary()}")
        return CliApp.run(Settings, cli_args=argv, cli_settings_source=source)
    except ValidationError as error:
        # A line per problem, not a traceback (which would also echo the values, secrets too).
        for line in describe_errors(error):
            print(f"{PROG}: error: {line}", file=sys.stderr)
        raise SystemExit(2) from None


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv and (argv[0] in COMMANDS or argv[0] in ALIASES):  # publish, promote, pin, ...
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
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        raise SystemExit(STARTUP_FAILURE) from None


if __name__ == "__main__":
    main()
