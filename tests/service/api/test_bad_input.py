"""Hostile and broken input: every case gets a 4xx whose JSON body names the problem, never a
5xx, and the server stays live with the other models serving."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.servers import RunningServer, assert_still_serving, raw_request

V2 = "/v2/models/mnist/infer"
V1 = "/v1/models/mnist/predict"


def tensor(data: object, shape: list[int] | None = None, datatype: str = "UINT8") -> bytes:
    t = {"name": "pixels", "shape": shape or [1, 784], "datatype": datatype, "data": data}
    return json.dumps({"inputs": [t]}).encode()


def raw_fp32(value: str) -> bytes:
    t = f'{{"name":"features","shape":[1,4],"datatype":"FP32","data":[1,2,3,{value}]}}'
    return f'{{"inputs":[{t}]}}'.encode()


CASES = [
    # malformed JSON
    ("truncated", V2, b'{"inputs": [{"name": "pixels",', {}, 400, "malformed JSON"),
    ("invalid utf-8", V2, b'{"inputs": "\xff\xfe"}', {}, 400, "malformed JSON"),
    ("deep nesting", V2, b"[" * 200_000 + b"]" * 200_000, {}, 400, "200000 arrays"),
    ("empty body", V2, b"", {}, 400, "empty request body"),
    ("empty v1 body", V1, b"", {}, 400, "empty request body"),
    ("lone surrogate", V1, b'{"instances": ["\\ud800"]}', {}, 400, "malformed JSON"),
    # non-finite and coerced numbers
    ("NaN", "/v2/models/tshirt/infer", raw_fp32("NaN"), {}, 400, "malformed JSON"),
    ("Infinity", "/v2/models/tshirt/infer", raw_fp32("Infinity"), {}, 400, "malformed JSON"),
    ("1e999", "/v2/models/tshirt/infer", raw_fp32("1e999"), {}, 400, "malformed JSON"),
    (
        "'nan' string",
        "/v2/models/tshirt/infer",
        raw_fp32('"nan"'),
        {},
        400,
        "strings are not numbers",
    ),
    ("'1e999' string", "/v2/models/tshirt/infer", raw_fp32('"1e999"'), {}, 400, "strings"),
    ("true", "/v2/models/tshirt/infer", raw_fp32("true"), {}, 400, "true/false"),
    ("'3' string", "/v2/models/tshirt/infer", raw_fp32('"3"'), {}, 400, "strings are not numbers"),
    ("1e39 overflows FP32", "/v2/models/tshirt/infer", raw_fp32("1e39"), {}, 400, "FP32 range"),
    ("true among pixels", V2, tensor([True] + [0] * 783), {}, 400, "true/false"),
    ("pixel 256", V2, tensor([256] * 784), {}, 400, "0-255"),
    ("pixel -1", V2, tensor([-1] * 784), {}, 400, "0-255"),
    ("pixel 2.5", V2, tensor([2.5] * 784), {}, 400, "whole numbers"),
    ("v1 pixel 300", V1, json.dumps({"instances": [[300] * 784]}).encode(), {}, 400, "0-255"),
    # wrong shapes
    ("783 values", V2, tensor([0] * 783), {}, 400, "does not match shape"),
    ("785 values", V2, tensor([0] * 785), {}, 400, "does not match shape"),
    ("ragged rows", V2, tensor([[0] * 784, [0] * 783], [2, 784]), {}, 400, "ragged"),
    ("zero rows", V2, tensor([], [0, 784]), {}, 400, "at least one instance"),
    ("negative dim", V2, tensor([0] * 784, [-1, 784]), {}, 400, "non-negative"),
    (
        "v1 ragged",
        V1,
        json.dumps({"instances": [[0] * 28] * 27 + [[0] * 27]}).encode(),
        {},
        400,
        "784 pixel values",
    ),
    ("too many instances", V2, tensor([0] * 784 * 9000, [9000, 784]), {}, 413, "limit"),
    # datatypes
    ("BYTES datatype", V2, tensor([0] * 784, datatype="BYTES"), {}, 400, "takes UINT8"),
    ("FP16 datatype", V2, tensor([0] * 784, datatype="FP16"), {}, 400, "takes UINT8"),
    ("unknown datatype", V2, tensor([0] * 784, datatype="UINT9"), {}, 400, "unknown datatype"),
    # binary extension
    (
        "header longer than body",
        V2,
        b"{}",
        {"Inference-Header-Content-Length": "99"},
        400,
        "Inference-Header-Content-Length",
    ),
    (
        "header not a number",
        V2,
        b"{}",
        {"Inference-Header-Content-Length": "1e3"},
        400,
        "Inference-Header-Content-Length",
    ),
    (
        "binary without header",
        V2,
        json.dumps(
            {
                "inputs": [
                    {
                        "name": "pixels",
                        "shape": [1, 784],
                        "datatype": "UINT8",
                        "parameters": {"binary_data_size": 784},
                    }
                ]
            }
        ).encode(),
        {},
        400,
        "without an Inference-Header-Content-Length",
    ),
    # content types
    (
        "v1 multipart to the JSON route",
        V1,
        b"--x--",
        {"content-type": "multipart/form-data; boundary=x"},
        415,
        "predict/image",
    ),
    ("unknown content encoding", V1, b"{}", {"content-encoding": "zstd"}, 415, "Content-Encoding"),
]


@pytest.mark.parametrize(
    ("path", "body", "headers", "status", "words"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_bad_input_gets_a_4xx_naming_the_problem(
    client: httpx.Client, path: str, body: bytes, headers: dict[str, str], status: int, words: str
) -> None:
    r = client.post(path, content=body, headers=headers)
    assert r.status_code == status, r.text
    assert words in r.json()["error"], r.json()
    assert_still_serving(client)


@pytest.mark.parametrize(
    "name",
    [
        "..",
        "%2e%2e",
        "a%2F..%2Fb",
        "%2Fetc%2Fpasswd",
        "mnist%00",
        "mn%D1%96st",
        "a" * 256,
        "MNIST",
        "-a",
    ],
)
def test_hostile_model_names_are_400_or_404(
    server: RunningServer, client: httpx.Client, name: str
) -> None:
    for method, path in (
        ("POST", f"/v2/models/{name}/infer"),
        ("GET", f"/v2/models/{name}"),
        ("GET", f"/v1/models/{name}"),
        ("POST", f"/v1/models/{name}/predict"),
        ("POST", f"/v1/models/{name}/versions/1/predict/image"),
    ):
        status, body = raw_request(server.port, method, path, tensor([0] * 784))
        assert status in (400, 404), (path, status, body)
        assert "error" in json.loads(body)
    assert_still_serving(client)


@pytest.mark.parametrize("version", ["0", "-1", "01", "1.0", "%2e%2e", "1e3", "99999999999"])
def test_hostile_versions_are_400_or_404(client: httpx.Client, version: str) -> None:
    r = client.post(f"/v2/models/mnist/versions/{version}/infer", content=tensor([0] * 784))
    assert r.status_code in (400, 404) and "error" in r.json()


def test_error_bodies_never_echo_input_at_length(client: httpx.Client) -> None:
    junk = "x" * 5000
    r = client.post(V2, content=json.dumps({"inputs": [{"name": junk}]}).encode())
    assert r.status_code == 400 and len(r.text) < 300


@pytest.mark.parametrize("digit", ["²", "٣", "３", "1²"])
@pytest.mark.parametrize(
    "path",
    ["/v1/models/mnist/predict", "/v1/models/mnist/predict/image"],
    ids=["json", "image"],
)
def test_unicode_digits_in_top_k_are_400_naming_it(
    client: httpx.Client, path: str, digit: str
) -> None:
    """'²'.isdigit() is True and int('²') raises; '٣' and '３' are digits int() reads as 3."""
    r = client.post(path, params={"top_k": digit}, content=tensor([0] * 784))
    assert r.status_code in (400, 415), r.text
    if path.endswith("predict"):
        assert r.json()["error"] == "top_k must be a whole number from 1 to 100"


@pytest.mark.parametrize(
    "raw", ["²".encode("latin-1"), "²".encode(), "٣".encode(), "３".encode()], ids=repr
)
def test_unicode_digits_in_the_binary_header_length_are_400_naming_it(
    client: httpx.Client, raw: bytes
) -> None:
    """Header bytes are read as latin-1: b'\\xb2' is '²'."""
    r = client.post(V2, content=tensor([0] * 784), headers={"inference-header-content-length": raw})
    assert r.status_code == 400
    assert r.json()["error"] == "Inference-Header-Content-Length must be a non-negative integer"
