"""`python -m service --models-dir DIR --host H --port P`: every setting also from LOGITSERVE_*."""

from __future__ import annotations

import os
import sys
from typing import Any

import uvicorn
from pydantic import SecretStr, ValidationError
from pydantic_settings import CliApp

from service import logs
from service.server import uvicorn_options
from service.settings import Settings, describe_errors


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
    settings = _settings(sys.argv[1:] if argv is None else argv)
    logs.configure(settings.log_level)
    options: dict[str, Any] = {**uvicorn_options(settings), "loop": _fastest("uvloop")}
    if settings.workers > 1:
        _export(settings)
        uvicorn.run("service.app:create_app", factory=True, workers=settings.workers, **options)
    else:
        # Imported here: with several workers, the supervisor never needs the app (or numpy,
        # ONNX Runtime and FastAPI), which keeps it small.
        from service.app import create_app

        uvicorn.run(create_app(settings), **options)


if __name__ == "__main__":
    main()
