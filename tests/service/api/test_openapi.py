"""`/openapi.json` is valid OpenAPI 3.1 and says what the service does: readable operation
ids, the credentials each route needs as security schemes, every body a route reads (the
canary's too), errors as they are sent (400 `{"error"}`, never FastAPI's 422), and the
limits the server enforces."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate

from tests.servers import RunningServer, running

KEY = "an-api-key-for-openapi-0123"
TOKEN = "a-control-token-for-openapi-0123"


@pytest.fixture(scope="module")
def keyed(repository: Path) -> Iterator[RunningServer]:
    with running(
        repository, reload_interval_s=0, api_keys=[KEY], control_token=TOKEN, max_top_k=7
    ) as srv:
        yield srv


def document(server_url: str) -> dict[str, Any]:
    answer = httpx.get(server_url + "/openapi.json")
    assert answer.status_code == 200
    return answer.json()  # type: ignore[no-any-return]


def operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, methods in doc["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def test_the_document_is_valid_openapi_3_1(client: httpx.Client, keyed: RunningServer) -> None:
    for doc in (client.get("/openapi.json").json(), document(keyed.url)):
        assert doc["openapi"].startswith("3.1")
        validate(doc)  # raises, saying where, on the first violation


def test_operation_ids_read_as_the_routes_do(client: httpx.Client) -> None:
    ids = [op["operationId"] for _, _, op in operations(client.get("/openapi.json").json())]
    assert len(ids) == len(set(ids))
    assert {"v1_predict", "v1_predict_image", "v1_list_models", "v2_infer", "v2_ready"} <= set(ids)
    assert {"v2_repository_canary", "v2_config", "metrics"} <= set(ids)
    assert all(re.fullmatch(r"(v1|v2|v2_repository)_[a-z_]+|metrics", i) for i in ids), ids


def test_errors_are_documented_as_sent_never_as_422(client: httpx.Client) -> None:
    doc = client.get("/openapi.json").json()
    for path, method, operation in operations(doc):
        assert "422" not in operation["responses"], (path, method)
        if operation.get("parameters"):
            assert "400" in operation["responses"], (path, method)
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    # What FastAPI would have answered 422 is answered 400 with {"error"}, as documented.
    bad = client.get("/v1/models/mnist/predict", params={"top_k": "x"})
    assert bad.status_code in (400, 405)
    refused = client.post("/v1/models/mnist/predict?top_k=x", json={"instances": []})
    assert refused.status_code == 400 and "error" in refused.json()


def test_without_keys_only_the_repository_routes_need_a_credential(client: httpx.Client) -> None:
    doc = client.get("/openapi.json").json()
    assert set(doc["components"]["securitySchemes"]) == {"controlToken"}
    for path, _, operation in operations(doc):
        needs = operation.get("security")
        if path.startswith("/v2/repository/"):
            assert needs == [{"controlToken": []}], path
        else:
            assert needs is None, path


def test_with_keys_every_prediction_route_needs_one_and_no_other_route_does(
    keyed: RunningServer,
) -> None:
    doc = document(keyed.url)
    schemes = doc["components"]["securitySchemes"]
    assert schemes["apiKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": schemes["apiKey"]["description"],
    }
    assert schemes["apiKeyBearer"]["scheme"] == "bearer"
    for path, method, operation in operations(doc):
        needs = operation.get("security")
        if method == "post" and (path.endswith("/predict") or path.endswith("/infer")
                                 or path.endswith("/predict/image")):  # fmt: skip
            assert needs == [{"apiKey": []}, {"apiKeyBearer": []}], path
            assert "401" in operation["responses"], path
            # As documented: without a key 401, with one (either way) it is served.
            assert httpx.post(keyed.url + path.format(name="nope", version="1")).status_code == 401
        elif not path.startswith("/v2/repository/"):
            assert needs is None, path


def test_the_canary_body_is_in_the_schema_and_a_body_built_from_it_is_accepted(
    keyed: RunningServer,
) -> None:
    doc = document(keyed.url)
    canary = doc["paths"]["/v2/repository/models/{name}/versions/{version}/canary"]["post"]
    body = canary["requestBody"]
    assert body["required"] is True
    weight = body["content"]["application/json"]["schema"]["properties"]["weight"]
    assert (weight["type"], weight["minimum"], weight["maximum"]) == ("number", 0, 100)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    url = keyed.url + "/v2/repository/models/mnist/versions/1/canary"
    assert httpx.post(url, json={"weight": 0}, headers=auth).status_code == 200
    assert httpx.post(url, json={"weight": 101}, headers=auth).status_code == 400
    answer = canary["responses"]["200"]["content"]["application/json"]["schema"]
    assert answer == {"$ref": "#/components/schemas/ControlResponse"}


def test_top_k_is_bounded_as_the_server_bounds_it(keyed: RunningServer) -> None:
    doc = document(keyed.url)
    [top_k] = [
        p for p in doc["paths"]["/v1/models/{name}/predict"]["post"]["parameters"]
        if p["name"] == "top_k"
    ]  # fmt: skip
    assert (top_k["schema"]["minimum"], top_k["schema"]["maximum"]) == (1, 7)
    url = keyed.url + "/v1/models/tshirt/predict"
    row, key = {"instances": [[20, 5, 3, 7]]}, {"X-API-Key": KEY}
    assert httpx.post(url + "?top_k=7", json=row, headers=key).status_code == 200
    assert httpx.post(url + "?top_k=8", json=row, headers=key).status_code == 400


def test_the_binary_body_of_v2_infer_is_a_plain_media_type(client: httpx.Client) -> None:
    doc = client.get("/openapi.json").json()
    body = doc["paths"]["/v2/models/{name}/infer"]["post"]["requestBody"]
    assert body["content"]["application/octet-stream"] == {
        "schema": {"type": "string", "format": "binary"}
    }
    assert "Inference-Header-Content-Length" in body["description"]
