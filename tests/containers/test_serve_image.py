"""The serve image on the shipped models: the same probabilities as ONNX Runtime computes from
the model files, over v1, v2 (JSON and binary tensors) and gRPC on the second exposed port;
an unprivileged user, no torch, no
training code, a read-only root filesystem; its own HEALTHCHECK passes; SIGTERM ends it
cleanly and at once."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import onnxruntime as ort
import pytest

from tests.containers.conftest import Images
from tests.containers.engine import Engine

pytestmark = [pytest.mark.containers, pytest.mark.timeout(2400)]


def latest_version(models: Path, name: str) -> Path:
    return max(
        (p for p in (models / name).iterdir() if p.name.isdigit()), key=lambda p: int(p.name)
    )


def expected_probabilities(models: Path, name: str, pixels: np.ndarray) -> np.ndarray:
    """Softmax over the logits ONNX Runtime computes from the shipped file itself."""
    version = latest_version(models, name)
    shape = json.loads((version / "manifest.json").read_text())["input"]["shape"]
    session = ort.InferenceSession(str(version / "model.onnx"), providers=["CPUExecutionProvider"])
    batch = pixels.reshape(-1, *shape[1:])  # (n, 784) for the dense net, (n, 28, 28) for the CNN
    logits = session.run(None, {session.get_inputs()[0].name: batch})[0]
    z = np.exp(logits - logits.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


@pytest.fixture(scope="module")
def served(engine: Engine, images: Images) -> Iterator[tuple[str, str]]:
    """The image as Kubernetes runs it: read-only root, a scratch /tmp, nothing mounted."""
    with engine.serving(images.serve, "--read-only", "--tmpfs", "/tmp") as running:
        yield running


def test_the_page_and_the_offline_docs_are_in_the_image(served: tuple[str, str]) -> None:
    _, url = served
    page = httpx.get(f"{url}/", timeout=10)
    # The page itself (it builds its drawing pads and forms from /v1/models in the browser).
    assert page.status_code == 200 and "<title>logitserve · try the models</title>" in page.text
    docs = httpx.get(f"{url}/docs", timeout=10)
    assert docs.status_code == 200 and "/docs/static/swagger-ui-bundle.js" in docs.text
    bundle = httpx.get(f"{url}/docs/static/swagger-ui-bundle.js", timeout=10)
    assert bundle.status_code == 200 and len(bundle.content) > 100_000


@pytest.mark.parametrize("model", ["mnist", "mnist-cnn"])
def test_v1_predictions_match_onnx_runtime_on_the_shipped_models(
    served: tuple[str, str], shipped_models: Path, digits: tuple[np.ndarray, np.ndarray], model: str
) -> None:
    _, url = served
    pixels, labels = digits
    r = httpx.post(
        f"{url}/v1/models/{model}/predict", json={"instances": pixels.tolist()}, timeout=30
    )
    assert r.status_code == 200, r.text
    predictions = r.json()["predictions"]
    got = np.array([[p["probabilities"][str(d)] for d in range(10)] for p in predictions])
    np.testing.assert_allclose(
        got, expected_probabilities(shipped_models, model, pixels), atol=1e-5
    )
    accuracy = np.mean([int(p["label"]) for p in predictions] == labels)
    assert accuracy >= 0.85, f"{model} got {accuracy:.0%} of 50 real digits right"


def test_v2_json_and_binary_tensors_agree_with_v1(
    served: tuple[str, str], shipped_models: Path, digits: tuple[np.ndarray, np.ndarray]
) -> None:
    _, url = served
    pixels = digits[0][:8]
    expected = expected_probabilities(shipped_models, "mnist", pixels)
    tensor = {"name": "pixels", "shape": list(pixels.shape), "datatype": "UINT8"}

    as_json = httpx.post(
        f"{url}/v2/models/mnist/infer",
        json={"inputs": [tensor | {"data": pixels.ravel().tolist()}]},
        timeout=30,
    )
    assert as_json.status_code == 200, as_json.text
    output = {o["name"]: o for o in as_json.json()["outputs"]}["probabilities"]
    np.testing.assert_allclose(np.reshape(output["data"], (8, 10)), expected, atol=1e-5)

    header = json.dumps(
        {
            "inputs": [tensor | {"parameters": {"binary_data_size": pixels.nbytes}}],
            "outputs": [{"name": "probabilities", "parameters": {"binary_data": True}}],
        }
    ).encode()
    binary = httpx.post(
        f"{url}/v2/models/mnist/infer",
        content=header + pixels.astype(np.uint8).tobytes(),
        headers={"Inference-Header-Content-Length": str(len(header))},
        timeout=30,
    )
    assert binary.status_code == 200, binary.text
    n = int(binary.headers["inference-header-content-length"])
    probabilities = np.frombuffer(binary.content[n:], dtype="<f4").reshape(8, 10)
    np.testing.assert_allclose(probabilities, expected, atol=1e-5)


def test_grpc_on_port_8001_answers_as_onnx_runtime_computes(
    engine: Engine, images: Images, shipped_models: Path, digits: tuple[np.ndarray, np.ndarray]
) -> None:
    import grpc
    import tritonclient.grpc as grpcclient

    from tests.containers.engine import wait_for_http

    ports = ("-p", "127.0.0.1::8000", "-p", "127.0.0.1::8001")
    with engine.container(images.serve, "--read-only", "--tmpfs", "/tmp", *ports) as container:

        def mapped(port: int) -> str:
            found = engine("port", container, f"{port}/tcp").stdout.split()[0]
            return found.replace("0.0.0.0", "127.0.0.1")

        wait_for_http(f"http://{mapped(8000)}/v2/health/ready", engine=engine, container=container)
        target = mapped(8001)
        with grpc.insecure_channel(target) as channel:  # grpc.health.v1, by hand: SERVING
            check = channel.unary_unary("/grpc.health.v1.Health/Check")
            assert check(b"\n\x1einference.GRPCInferenceService", timeout=10) == b"\x08\x01"
        client = grpcclient.InferenceServerClient(url=target)
        pixels = digits[0][:8].reshape(8, 28, 28).astype(np.uint8)
        tensor = grpcclient.InferInput("pixels", list(pixels.shape), "UINT8")
        tensor.set_data_from_numpy(pixels)
        result = client.infer("mnist-cnn", [tensor])
        client.close()
    expected = expected_probabilities(shipped_models, "mnist-cnn", pixels.reshape(8, 784))
    np.testing.assert_allclose(result.as_numpy("probabilities"), expected, atol=1e-5)


def test_runs_unprivileged_without_torch_or_training_code(
    engine: Engine, served: tuple[str, str]
) -> None:
    container, _ = served
    assert engine.exec(container, "id", "-u").strip() == "10001"
    absent = "import importlib.util as u, sys; sys.exit(any(u.find_spec(m) for m in sys.argv[1:]))"
    for module in ("torch", "training"):
        done = engine("exec", container, "python", "-c", absent, module, check=False)
        assert done.returncode == 0, f"the serve image can import {module}"


def test_its_healthcheck_passes_on_a_serving_container(
    engine: Engine, served: tuple[str, str]
) -> None:
    container, _ = served
    # Run the image's own HEALTHCHECK command: podman 4.3 schedules it through systemd,
    # which a CI machine may not run, so the engine's health status is not waited for.
    test = engine.inspect(container)["Config"]["Healthcheck"]["Test"]
    assert test[0] == "CMD" and "/v2/health/live" in test[-1]
    assert engine("exec", container, *test[1:], check=False).returncode == 0


def test_sigterm_stops_it_cleanly_within_seconds(engine: Engine, images: Images) -> None:
    with engine.serving(images.serve) as (container, _):
        started = time.monotonic()
        engine("stop", "-t", "20", container, timeout=60)
        took = time.monotonic() - started
        state = engine.inspect(container)["State"]
        logs = engine.logs(container)
    # 0, not 137: Python (PID 1 under exec-form CMD) got the signal and uvicorn shut down.
    assert state["ExitCode"] == 0, logs
    assert took < 10, f"stop took {took:.1f} s (SIGKILL after 20 s would mean SIGTERM was lost)"
    assert '"shutdown complete"' in logs  # both transports drained, the core stopped


def test_it_publishes_your_own_onnx_without_torch(
    engine: Engine, images: Images, tmp_path: Path
) -> None:
    """Bring your own ONNX from the serve image alone: `python -m service publish`."""
    from tests.builders import random_mlp

    work = tmp_path / "work"
    (work / "models").mkdir(parents=True)
    (work / "model.onnx").write_bytes(random_mlp(0).SerializeToString())
    for path in (work, work / "models"):
        path.chmod(0o777)  # the image's user, 10001, writes the version
    done = engine.run_to_completion(
        images.serve,
        "--rm",
        "-v",
        f"{work}:/work",
        args=["python", "-m", "service", "publish", "/work/model.onnx", "--name", "digits"]
        + ["--task", "multiclass", "--labels", "0,1,2,3,4,5,6,7,8,9", "--image", "28x28"]
        + ["--models-dir", "/work/models"],
    )
    assert "published digits version 1" in done.stdout, done.stdout + done.stderr
    manifest = json.loads((work / "models" / "digits" / "1" / "manifest.json").read_text())
    assert manifest["input"]["image"] == {"height": 28, "width": 28}
