"""`python -m service --models-dir DIR --host H --port P`: every setting also from LOGITSERVE_*.
`python -m service publish|promote|pin|unpin|canary|load|unload ...`: see commands.py."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from typing import Any

import uvicorn
from pydantic import SecretStr, ValidationError
from pydantic_settings import CliApp

from service import logs
from service.server import uvicorn_options
from service.settings import Settings, describe_errors

# prometheus-client's own variable (metrics.py reads it too).
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
# The lifecycle commands (commands.py), named here so serving never imports them.
COMMANDS = ("publish", "promote", "pin", "unpin", "canary", "load", "unload")


def _export(settings: Settings) -> None:
    """Hand the parsed settings to worker processes, which rebuild them from the environment."""
    for name in Settings.model_fields:
        value = getattr(settings, name)
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        elif isinstance(value, list):
            value = ",".join(value)
        elif isinstance(value, bool):
            value = "true" if value else "false"
        os.environ[f"LOGITSERVE_{name.upper()}"] = str(value)


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
        from service.commands import main as command

        command(argv)
        return
    settings = _settings(argv)
    logs.configure(settings.log_level)
    options: dict[str, Any] = {**uvicorn_options(settings), "loop": _fastest("uvloop")}
    if settings.workers > 1:
        _export(settings)
        with _metrics_of_every_worker():
            uvicorn.run("service.app:create_app", factory=True, workers=settings.workers, **options)
    else:
        # Imported here: with several workers, the supervisor never needs the app (or numpy,
        # ONNX Runtime and FastAPI), which keeps it small.
        from service.app import create_app

        uvicorn.run(create_app(settings), **options)


if __name__ == "__main__":
    main()
