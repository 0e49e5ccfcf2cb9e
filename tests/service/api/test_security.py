"""Security: API keys on the prediction routes, no credentials in query strings or logs,
CORS off unless allowed, and nothing internal in any response body."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.servers import RunningServer, running, running_process, wait_until

KEY = "an-api-key-of-some-length-1"
OTHER_KEY = "an-api-key-of-some-length-2"
TOKEN = "a-control-token-of-some-length"
ROW = {"instances": [[20, 5, 3, 7]]}


@pytest.fixture(scope="module")
def keyed(repository: Path) -> Iterator[RunningServer]:
    with running(
        repository, reload_interval_s=0, api_keys=[KEY, OTHER_KEY], control_token=TOKEN
    ) as srv:
        yield srv


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-key-wrong-key-wrong"},
        {"X-API-Key": "short"},
        {"Authorization": KEY},
    ],
)
def test_prediction_routes_need_an_api_key_when_configured(
    keyed: RunningServer, headers: dict[str, str]
) -> None:
    with httpx.Client(base_url=keyed.url, headers=headers) as client:
        for path, body in (
            ("/v1/models/tshirt/predict", ROW),
            ("/v2/models/tshirt/infer", {"inputs": []}),
            ("/v1/models/mnist/predict/image", None),
        ):
            r = client.post(path, json=body)
            assert r.status_code == 401, (path, r.text)
            assert r.headers["www-authenticate"] == "Bearer"
        assert client.get("/v2/health/ready").status_code == 200  # health stays open


def routes_that_run_a_model(server: RunningServer) -> dict[str, set[str]]:
    """Every route of the app, as the app itself describes them (its OpenAPI document), that
    acts on a model rather than describing it: any method but GET under /v1/models or
    /v2/models (model control is /v2/repository). Path -> methods."""
    paths = server.gateway.app.openapi()["paths"]
    return {
        path: methods
        for path, operations in paths.items()
        if path.startswith(("/v1/models/", "/v2/models/"))
        and (methods := {m.upper() for m in operations} - {"GET", "HEAD"})
    }


def test_every_route_that_serves_predictions_needs_an_api_key(keyed: RunningServer) -> None:
    routes = routes_that_run_a_model(keyed)
    assert len(routes) == 6  # v1 predict and predict/image, v2 infer: each also by version
    # The gateway protects what the route table declares: the table is all of them.
    assert {r.path for r in keyed.gateway.routes.routes} == set(routes)
    with httpx.Client(base_url=keyed.url) as client:
        for template, methods in routes.items():
            path = template.format(name="tshirt", version="1")
            for method in sorted(methods) + ["GET"]:
                r = client.request(method, path, json=ROW)
                assert r.status_code == 401, (method, path, r.text)
            r = client.post(path, json=ROW, headers={"X-API-Key": KEY})
            assert r.status_code != 401, (path, r.text)


@pytest.mark.parametrize("headers", [{"Authorization": f"Bearer {KEY}"}, {"X-API-Key": OTHER_KEY}])
def test_either_key_in_either_header_is_accepted(
    keyed: RunningServer, headers: dict[str, str]
) -> None:
    with httpx.Client(base_url=keyed.url, headers=headers) as client:
        assert client.post("/v1/models/tshirt/predict", json=ROW).status_code == 200


@pytest.mark.parametrize("param", ["token", "api_key", "apikey", "access_token", "key"])
def test_credentials_in_the_query_string_are_refused(client: httpx.Client, param: str) -> None:
    r = client.post(f"/v1/models/tshirt/predict?{param}=secret", json=ROW)
    assert r.status_code == 400 and "query string" in r.json()["error"]


def test_tokens_never_reach_the_logs(repository: Path) -> None:
    with (
        running_process(
            repository, "--log-level", "debug", api_keys=f"{KEY},{OTHER_KEY}", control_token=TOKEN
        ) as srv,
        httpx.Client(base_url=srv.url) as client,
    ):
        client.post(
            "/v1/models/tshirt/predict", json=ROW, headers={"Authorization": f"Bearer {KEY}"}
        )
        client.post(
            "/v1/models/tshirt/predict", json=ROW, headers={"X-API-Key": "wrong-but-secret-value"}
        )
        client.post("/v2/repository/index", headers={"Authorization": f"Bearer {TOKEN}"})
        client.post("/v2/repository/index", headers={"Authorization": "Bearer guessed-token-value"})
        client.post(f"/v1/models/tshirt/predict?token={TOKEN}", json=ROW)
        # The access log is written in batches, a moment after the answers: wait for all 5.
        text = wait_until(lambda: (t := srv.log_text()).count('"method":"POST"') == 5 and t)
    assert "/v1/models/tshirt/predict" in text  # it did log
    for secret in (KEY, TOKEN, "wrong-but-secret-value", "guessed-token-value"):
        assert secret not in text


def test_cors_is_off_by_default(client: httpx.Client) -> None:
    r = client.options(
        "/v1/models/tshirt/predict",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in r.headers
    r = client.post(
        "/v1/models/tshirt/predict", json=ROW, headers={"Origin": "https://evil.example"}
    )
    assert "access-control-allow-origin" not in r.headers


def test_cors_allows_only_the_configured_origins(repository: Path) -> None:
    with (
        running(repository, reload_interval_s=0, cors_origins=["https://app.example"]) as srv,
        httpx.Client(base_url=srv.url) as client,
    ):
        ok = client.post(
            "/v1/models/tshirt/predict", json=ROW, headers={"Origin": "https://app.example"}
        )
        assert ok.headers["access-control-allow-origin"] == "https://app.example"
        other = client.post(
            "/v1/models/tshirt/predict", json=ROW, headers={"Origin": "https://evil.example"}
        )
        assert "access-control-allow-origin" not in other.headers
        pre = client.options(
            "/v2/models/tshirt/infer",
            headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"},
        )
        assert pre.status_code == 200


def test_no_response_carries_a_traceback_a_path_or_the_environment(
    client: httpx.Client, repository: Path
) -> None:
    probes = [
        ("POST", "/v2/models/mnist/infer", b"{"),
        ("POST", "/v2/models/nope/infer", b"{}"),
        ("POST", "/v1/models/mnist/predict", b'{"instances": [[1]]}'),
        ("POST", "/v1/models/mnist/predict/image", b"x"),
        ("GET", "/v1/models", b""),
        ("GET", "/v2/health/ready", b""),
        ("GET", "/v2/nothing", b""),
        ("POST", "/v2/repository/index", b""),
    ]
    secrets = [v for k, v in os.environ.items() if len(v) >= 12 and k not in ("PWD", "OLDPWD")]
    for method, path, body in probes:
        text = client.request(method, path, content=body).text
        assert "Traceback" not in text and 'File "' not in text, path
        assert str(repository) not in text and "/tmp/" not in text, path
        assert not any(s in text for s in secrets if "/" not in s), path


@pytest.mark.parametrize(
    ("target", "location"),
    [
        ("/v1/models/mnist/", "/v1/models/mnist"),
        ("/v1/models/?top_k=2", "/v1/models?top_k=2"),
    ],
)
def test_redirects_never_reflect_the_host_header(
    server: RunningServer, target: str, location: str
) -> None:
    r = httpx.get(f"{server.url}{target}", headers={"Host": "evil.example"}, follow_redirects=False)
    assert r.status_code == 307
    assert r.headers["location"] == location
    assert "evil" not in str(r.headers) and "evil" not in r.text
