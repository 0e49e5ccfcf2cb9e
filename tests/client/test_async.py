"""The async client makes the same calls as the sync one, and many at once share a connection
pool."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from logitserve_client import AsyncClient, Client, NotFound, Unauthorized
from tests.client.conftest import API_KEY
from tests.client.test_client import TSHIRT_ROW, digit_png
from tests.servers import ServerProcess


def test_the_async_client_answers_as_the_sync_one(server: ServerProcess) -> None:
    pixels = np.random.default_rng(5).integers(0, 256, (2, 784), dtype=np.uint8)

    async def calls() -> dict[str, object]:
        async with AsyncClient(server.url) as client:
            return {
                "models": [m.name for m in await client.models()],
                "info": await client.model("tshirt"),
                "ready": await client.ready("mnist"),
                "predict": (await client.predict("mnist", pixels)).as_numpy(),
                "one": await client.predict_one("tshirt", TSHIRT_ROW),
                "images": (await client.predict_images("mnist", [digit_png()])).as_numpy(),
                "infer": (await client.infer("mnist", pixels)).as_numpy(),
            }

    got = asyncio.run(calls())
    with Client(server.url) as sync:
        assert got["models"] == [m.name for m in sync.models()]
        assert got["info"] == sync.model("tshirt") and got["ready"] is True
        np.testing.assert_array_equal(got["predict"], sync.predict("mnist", pixels).as_numpy())
        assert got["one"] == sync.predict_one("tshirt", TSHIRT_ROW)
        np.testing.assert_array_equal(
            got["images"], sync.predict_images("mnist", digit_png()).as_numpy()
        )
        np.testing.assert_allclose(got["infer"], sync.infer("mnist", pixels).as_numpy())


def test_many_concurrent_async_predictions_all_answer(server: ServerProcess) -> None:
    async def many() -> list[str | None]:
        async with AsyncClient(server.url) as client:
            rows = [[20.0 + i, 5.0, 3.0, 7.0] for i in range(50)]
            results = await asyncio.gather(*(client.predict_one("tshirt", r) for r in rows))
            return [r.label for r in results]

    labels = asyncio.run(many())
    assert len(labels) == 50 and all(label is not None for label in labels)


def test_async_errors_carry_the_servers_message(
    server: ServerProcess, keyed_server: ServerProcess
) -> None:
    async def unknown() -> None:
        async with AsyncClient(server.url) as client:
            await client.model("nope")

    with pytest.raises(NotFound, match="nope"):
        asyncio.run(unknown())

    async def keyed(key: str | None) -> str | None:
        async with AsyncClient(keyed_server.url, api_key=key) as client:
            return (await client.predict_one("tshirt", TSHIRT_ROW)).label

    with pytest.raises(Unauthorized):
        asyncio.run(keyed(None))
    assert asyncio.run(keyed(API_KEY)) is not None
