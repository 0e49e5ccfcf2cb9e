"""`python -m service --models-dir DIR --host H --port P`: every setting also from LOGITSERVE_*."""

from __future__ import annotations

import os
import sys
from typing import Any

import uvicorn
from pydantic import SecretStr
from pydantic_settings import CliApp

from service import logs
from service.server import uvicorn_options
from service.settings import Settings


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


def main(argv: list[str] | None = None) -> None:
    settings = CliApp.run(Settings, cli_args=sys.argv[1:] if argv is None else argv)
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
