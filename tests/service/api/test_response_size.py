"""A response is bounded before the model runs: rows x classes x label bytes must fit
--max-response-bytes, on v1 and v2 alike (and gRPC, through the same data plane), or the
request gets 413 saying how many rows fit and, on v2, that the top k classes alone would."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.builders import standard_repository, wide_repository
from tests.servers import RunningServer, assert_still_serving, running

LIMIT = 16 * 1024 * 1024  # the default


@pytest.fixture(scope="module")
def wide(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    repo = tmp_path_factory.mktemp("models")
    wide_repository(repo, 1_000, "wide")  # 1,000 classes
    wide_repository(repo, 100_000, "widest")  # 100,000 classes
    standard_repository(repo)
    with running(repo, reload_interval_s=0) as srv:
        yield srv


def rows(n: int) -> list[list[float]]:
    return [[0.5, -1.5]] * n


def v2_body(n: int, **outputs: object) -> dict[str, object]:
    body: dict[str, object] = {
        "inputs": [{"name": "features", "shape": [n, 2], "datatype": "FP32", "data": rows(n)}]
    }
    return body | outputs


def fitting_rows(message: str) -> int:
    return int(message.split("send at most ")[1].split()[0])


def test_v1_refuses_an_answer_over_the_limit_and_names_the_rows_that_fit(
    wide: RunningServer,
) -> None:
    with httpx.Client(base_url=wide.url, timeout=60) as client:
        # 8,192 rows of 1,000 classes: a 286 MB answer before.
        r = client.post("/v1/models/wide/predict", json={"instances": rows(8192)})
        assert r.status_code == 413, r.status_code
        error = r.json()["error"]
        assert "over the limit of 16.8 MB (--max-response-bytes)" in error, error
        fit = fitting_rows(error)
        ok = client.post("/v1/models/wide/predict", json={"instances": rows(fit)})
        assert ok.status_code == 200 and len(ok.json()["predictions"]) == fit
        assert len(ok.content) <= LIMIT  # the estimate bounds what is sent
        assert_still_serving(client)


@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_v2_refuses_an_answer_over_the_limit_and_offers_the_top_k(
    wide: RunningServer, binary: bool
) -> None:
    params = {"parameters": {"binary_data_output": True}} if binary else {}
    with httpx.Client(base_url=wide.url, timeout=60) as client:
        # 40 rows of 100,000 classes from a few hundred bytes: a 124 MB answer before.
        r = client.post("/v2/models/widest/infer", json=v2_body(40, **params))
        assert r.status_code == 413, r.status_code
        error = r.json()["error"]
        assert "(--max-response-bytes)" in error and "parameters.classification" in error, error
        fit = fitting_rows(error)
        ok = client.post("/v2/models/widest/infer", json=v2_body(fit, **params))
        assert ok.status_code == 200 and len(ok.content) <= LIMIT
        top = [{"name": "probabilities", "parameters": {"classification": 3}}]
        ranked = client.post("/v2/models/widest/infer", json=v2_body(40, outputs=top))
        assert ranked.status_code == 200 and ranked.json()["outputs"][0]["shape"] == [40, 3]
        assert_still_serving(client)
