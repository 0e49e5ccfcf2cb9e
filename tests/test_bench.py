"""The in-process bench measures what it says: real requests through the whole app, and
with the model call left out (one cached result per batch size)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from bench import payloads
from bench.in_process import cached_scores, lifespan, per_request_us
from service.app import create_app
from service.runtime import Session
from service.settings import Settings

MODELS = Path(__file__).resolve().parent.parent / "models"


def test_the_in_process_bench_drives_the_app_and_can_leave_the_model_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[int] = []
    original = Session.run

    def counted(self: Session, batch: np.ndarray) -> np.ndarray:
        calls.append(len(batch))
        return original(self, batch)

    monkeypatch.setattr(Session, "run", counted)
    body, headers = payloads.bodies()["v2_binary64"]

    async def main() -> tuple[float, float]:
        app = create_app(Settings(models_dir=MODELS, access_log=False, reload_interval_s=0))
        async with lifespan(app):
            calls.clear()  # loading warms every model up
            whole = await per_request_us(app, "/v2/models/mnist/infer", body, headers, 4, 40)
            model_calls = len(calls)
            with cached_scores():
                rest = await per_request_us(app, "/v2/models/mnist/infer", body, headers, 4, 40)
        assert model_calls >= 10 and sum(calls[:model_calls]) == 40 * 64  # every row ran
        assert len(calls) == model_calls + 1  # left out: one call for the cache, then none
        return whole, rest

    whole, rest = asyncio.run(main())
    assert whole > 0 and rest > 0


def test_a_request_the_app_refuses_fails_the_bench_instead_of_timing_an_error() -> None:
    async def main() -> None:
        app = create_app(Settings(models_dir=MODELS, access_log=False, reload_interval_s=0))
        async with lifespan(app):
            await per_request_us(app, "/v2/models/nonexistent/infer", b"{}", {}, 2, 4)

    with pytest.raises(RuntimeError, match=r"answered \[404\]"):
        asyncio.run(main())
