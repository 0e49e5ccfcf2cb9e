"""Bring your own ONNX: `logitserve publish` turns a graph trained anywhere into the next
version of a model, with held-out metrics, from the service's install alone (no torch, no
onnx package), and refuses graphs the service cannot serve, saying why."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import httpx
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import uploads
from service.commands import publishing
from tests.builders import (
    course_dense_model,
    dense_graph,
    memory_hungry_mlp,
    nonfinite_mlp,
    random_mlp,
)
from tests.servers import running_process

DIGITS = "0,1,2,3,4,5,6,7,8,9"
# The subprocess cannot import torch: publishing needs only the service's install (which
# has the onnx package, for its checker).
WITHOUT_TORCH = (
    "import sys; sys.modules['torch'] = None; "
    "from service.__main__ import main; main(sys.argv[1:]); "
    "assert 'torch' not in sys.modules or sys.modules['torch'] is None"
)


def logitserve(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_TORCH, *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def save(tmp_path: Path, model: onnx.ModelProto, name: str = "model.onnx") -> Path:
    path = tmp_path / name
    path.write_bytes(model.SerializeToString())
    return path


def held_out(tmp_path: Path, x: np.ndarray, y: np.ndarray) -> Path:
    path = tmp_path / "held_out.npz"
    np.savez(path, x=x, y=y)
    return path


def test_a_graph_is_published_with_its_metrics_and_served(tmp_path: Path) -> None:
    graph = random_mlp(3)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (200, 28, 28), dtype=np.uint8)
    y = rng.integers(0, 10, 200)
    models = tmp_path / "models"
    run = logitserve(
        "publish",
        str(save(tmp_path, graph)),
        "--name",
        "digits",
        "--task",
        "multiclass",
        "--labels",
        DIGITS,
        "--image",
        "28x28",
        "--eval",
        str(held_out(tmp_path, x, y)),
        "--models-dir",
        str(models),
    )
    assert run.returncode == 0, run.stderr
    assert "published digits version 1" in run.stdout
    manifest = json.loads((models / "digits" / "1" / "manifest.json").read_text())
    assert manifest["input"] == {
        "name": "pixels",
        "datatype": "UINT8",
        "shape": [-1, 784],
        "kind": "image",
        "image": {"height": 28, "width": 28},
        "features": None,
    }
    assert manifest["output"]["shape"] == [-1, 10] and manifest["dataset"]["test_size"] == 200
    import onnxruntime as ort

    logits = ort.InferenceSession(graph.SerializeToString()).run(
        None, {"pixels": x.reshape(200, -1)}
    )
    expected = float(np.mean(np.argmax(logits[0], axis=1) == y))
    assert manifest["metrics"] == {"accuracy": pytest.approx(expected)}
    with running_process(models) as srv:
        r = httpx.post(srv.url + "/v1/models/digits/predict", json={"instances": [x[0].tolist()]})
        assert r.status_code == 200 and r.json()["version"] == 1, r.text
        assert r.json()["predictions"][0]["label"] == str(int(np.argmax(logits[0][0])))


def test_a_tabular_graph_publishes_and_promote_makes_it_serve(tmp_path: Path) -> None:
    models = tmp_path / "models"
    args = [
        "--task",
        "multilabel",
        "--labels",
        "a,b,c",
        "--features",
        "x1,x2",
        "--models-dir",
        str(models),
    ]
    path = str(save(tmp_path, course_dense_model()))
    for _ in range(2):
        assert logitserve("publish", path, "--name", "course", *args).returncode == 0
    run = logitserve("publish", path, "--name", "course", *args, "--promote")
    assert run.returncode == 0, run.stderr
    assert "promote version 3" in run.stdout
    control = json.loads((models / "course" / "control.json").read_text())
    assert control["promoted"] == 3
    manifest = json.loads((models / "course" / "3" / "manifest.json").read_text())
    assert [f["name"] for f in manifest["input"]["features"]] == ["x1", "x2"]
    assert manifest["threshold"] == 0.5 and manifest["output"]["activation"] == "sigmoid"


def test_a_graph_exported_for_a_fixed_batch_of_one_serves_batches(tmp_path: Path) -> None:
    dynamic = random_mlp(5)
    fixed = onnx.ModelProto()
    fixed.CopyFrom(dynamic)
    for value in (*fixed.graph.input, *fixed.graph.output):
        value.type.tensor_type.shape.dim[0].Clear()
        value.type.tensor_type.shape.dim[0].dim_value = 1
    models = tmp_path / "models"
    run = logitserve(
        "publish",
        str(save(tmp_path, fixed)),
        "--name",
        "fixed",
        "--task",
        "multiclass",
        "--labels",
        DIGITS,
        "--image",
        "28x28",
        "--models-dir",
        str(models),
    )
    assert run.returncode == 0, run.stderr
    rows = np.random.default_rng(1).integers(0, 256, (3, 784), dtype=np.uint8)
    import onnxruntime as ort

    expected = ort.InferenceSession(dynamic.SerializeToString()).run(None, {"pixels": rows})[0]
    body = {
        "inputs": [
            {
                "name": "pixels",
                "shape": [3, 784],
                "datatype": "UINT8",
                "data": rows.ravel().tolist(),
            }
        ]
    }
    with running_process(models) as srv:
        r = httpx.post(srv.url + "/v2/models/fixed/infer", json=body)
        assert r.status_code == 200, r.text
        logits = next(o for o in r.json()["outputs"] if o["name"] == "logits")
        assert np.allclose(np.array(logits["data"]).reshape(3, 10), expected, atol=1e-5)


def two_inputs() -> onnx.ModelProto:
    graph = helper.make_graph(
        [helper.make_node("Add", ["a", "b"], ["logits"])],
        "two",
        [
            helper.make_tensor_value_info("a", TensorProto.FLOAT, ["n", 2]),
            helper.make_tensor_value_info("b", TensorProto.FLOAT, ["n", 2]),
        ],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["n", 2])],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=9)


def int64_input() -> onnx.ModelProto:
    graph = helper.make_graph(
        [helper.make_node("Cast", ["ids"], ["logits"], to=TensorProto.FLOAT)],
        "ints",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, ["n", 2])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["n", 2])],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=9)


def symbolic_width() -> onnx.ModelProto:
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["logits"])],
        "free",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", "width"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["n", "width"])],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=9)


def unnamed_graph() -> onnx.ModelProto:
    """ONNX Runtime runs it; the specification requires a graph's name."""
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["logits"])],
        "",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 2])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["n", 2])],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=9)


def features_3() -> onnx.ModelProto:
    w = np.ones((3, 2), np.float32)
    return dense_graph(
        [w], [np.zeros(2)], input_name="x", input_type="FP32", row_shape=(3,), scale=None
    )


@pytest.mark.parametrize(
    ("model", "options", "words"),
    [
        (lambda: two_inputs(), ["--features", "a,b"], "2 inputs"),
        (lambda: int64_input(), ["--features", "a,b"], "tensor(int64)"),
        (lambda: symbolic_width(), ["--features", "a,b"], "symbolic sizes"),
        (lambda: features_3(), ["--features", "a,b"], "one input.features entry per column"),
        (lambda: random_mlp(0), ["--image", "20x20"], "height*width must equal"),
        (lambda: nonfinite_mlp("nan"), ["--image", "28x28"], "not finite"),
        (lambda: b"not an onnx graph", ["--image", "28x28"], "ONNX Runtime cannot load"),
        (lambda: unnamed_graph(), ["--features", "a,b"], "(onnx.checker): Field 'name'"),
        (lambda: memory_hungry_mlp(300_000_000), ["--image", "28x28"], "(--max-load-memory-mib)"),
    ],
    ids=[
        "two-inputs",
        "int64",
        "symbolic",
        "features",
        "image-size",
        "nan",
        "garbage",
        "spec",
        "memory",
    ],
)
def test_graphs_the_service_cannot_serve_are_refused_saying_why(
    tmp_path: Path, model: object, options: list[str], words: str
) -> None:
    built = model()  # type: ignore[operator]
    path = tmp_path / "model.onnx"
    path.write_bytes(built if isinstance(built, bytes) else built.SerializeToString())
    labels = "a,b" if "--features" in options else DIGITS
    run = logitserve(
        "publish",
        str(path),
        "--name",
        "byo",
        "--task",
        "multiclass",
        "--labels",
        labels,
        *options,
        "--models-dir",
        str(tmp_path / "models"),
    )
    assert run.returncode == 1, run.stdout
    assert words in run.stderr and run.stderr.startswith("logitserve publish: error:"), run.stderr
    assert not (tmp_path / "models" / "byo" / "1").exists()


def test_a_graph_with_external_weight_files_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "model.onnx"
    onnx.save_model(
        random_mlp(0), path, save_as_external_data=True, location="weights.bin", size_threshold=0
    )
    run = logitserve(
        "publish",
        str(path),
        "--name",
        "byo",
        "--task",
        "multiclass",
        "--labels",
        DIGITS,
        "--image",
        "28x28",
        "--models-dir",
        str(tmp_path / "models"),
    )
    assert run.returncode == 1 and "external data" in run.stderr, run.stderr


def test_labels_that_do_not_fit_the_outputs_are_refused(tmp_path: Path) -> None:
    run = logitserve(
        "publish",
        str(save(tmp_path, random_mlp(0))),
        "--name",
        "byo",
        "--task",
        "multiclass",
        "--labels",
        "a,b,c",
        "--image",
        "28x28",
        "--models-dir",
        str(tmp_path / "models"),
    )
    assert run.returncode == 1 and "labels must name every output column" in run.stderr


def test_publish_refuses_labels_too_large_for_every_answer(tmp_path: Path) -> None:
    classes = 2000
    graph = dense_graph(
        [np.ones((2, classes))],
        [np.zeros(classes)],
        input_name="x",
        input_type="FP32",
        row_shape=(2,),
        scale=None,
    )
    path = tmp_path / "wide.onnx"
    path.write_bytes(graph.SerializeToString())
    request = publishing.Request(
        model=path,
        name="wide",
        task="multiclass",
        labels=[f"{i:0225d}" for i in range(classes)],  # 450 KB
        features=["a", "b"],
    )
    with pytest.raises(publishing.PublishError, match=r"^--labels: the labels take 450000 bytes"):
        publishing.publish(request, tmp_path / "models")
    assert not (tmp_path / "models" / "wide" / "1").exists()


def png(pixels: np.ndarray) -> bytes:
    from io import BytesIO

    from PIL import Image

    buffer = BytesIO()
    Image.fromarray(pixels.astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def float_pixels_graph() -> onnx.ModelProto:
    """A graph trained elsewhere on float pixels (8x8, scaling inside it)."""
    rng = np.random.default_rng(8)
    return dense_graph(
        [rng.normal(0, 1, (64, 10))],
        [rng.normal(0, 1, 10)],
        input_type="FP32",
        row_shape=(8, 8),
        scale=1 / 255,
    )


def expected_logits(graph: onnx.ModelProto, pixels: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(graph.SerializeToString())
    name = session.get_inputs()[0].name
    return session.run(None, {name: pixels.astype(np.float32)})[0]  # type: ignore[no-any-return]


def test_a_float_input_image_graph_serves_on_every_v1_route(tmp_path: Path) -> None:
    """Every v1 request to such a graph answered 500: the image routes fed it uint8."""
    from tests.servers import running

    graph = float_pixels_graph()
    models = tmp_path / "models"
    run = logitserve(
        "publish", str(save(tmp_path, graph)), "--name", "floaty", "--task", "multiclass",
        "--labels", DIGITS, "--image", "8x8", "--models-dir", str(models),
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    digit = np.zeros((8, 8), np.uint8)
    digit[1:7, 3:5] = 255
    logits = expected_logits(graph, digit[None])[0]
    best = str(int(np.argmax(logits)))
    with running(models, reload_interval_s=0) as srv, httpx.Client(base_url=srv.url) as client:
        for base in ("/v1/models/floaty", "/v1/models/floaty/versions/1"):
            for instance in (digit.ravel().tolist(), digit.tolist()):
                r = client.post(f"{base}/predict", json={"instances": [instance]})
                assert r.status_code == 200, r.text
                assert r.json()["predictions"][0]["label"] == best
            r = client.post(f"{base}/predict/image", files={"files": ("d.png", png(digit))})
            assert r.status_code == 200, r.text
            probabilities = np.array(list(r.json()["predictions"][0]["probabilities"].values()))
            # The upload as the image route brings it into the model's form (uploads/).
            fitted = uploads.to_model_input(uploads.decode(png(digit), 10**6), 8, 8)
            seen = expected_logits(graph, fitted.reshape(1, 8, 8))[0]
            softmax = np.exp(seen - seen.max()) / np.exp(seen - seen.max()).sum()
            assert np.allclose(probabilities, softmax, atol=1e-5)
        tensor: dict[str, object] = {"name": "pixels", "shape": [1, 8, 8], "datatype": "FP32"}
        tensor["data"] = digit.ravel().tolist()
        r = client.post("/v2/models/floaty/infer", json={"inputs": [tensor]})
        assert r.status_code == 200, r.text


def test_eval_images_outside_0_255_are_warned_about(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.random((50, 8, 8)).astype(np.float32)  # scaled to 0-1, as many trainers do
    run = logitserve(
        "publish", str(save(tmp_path, float_pixels_graph())), "--name", "scaled",
        "--task", "multiclass", "--labels", DIGITS, "--image", "8x8",
        "--eval", str(held_out(tmp_path, x, rng.integers(0, 10, 50))),
        "--models-dir", str(tmp_path / "models"),
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "logitserve publish: warning: held_out.npz: x ranges from 0" in run.stderr
    assert "as if scaled to 0-1, but images arrive as pixels 0-255" in run.stderr
    card = (tmp_path / "models" / "scaled" / "1" / "README.md").read_text()
    assert "## Warnings" in card and "as if scaled to 0-1" in card


def test_a_published_version_has_a_model_card_from_its_evaluation(tmp_path: Path) -> None:
    from tests.servers import running

    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (120, 28, 28), dtype=np.uint8)
    y = rng.integers(0, 10, 120)
    models = tmp_path / "models"
    run = logitserve(
        "publish", str(save(tmp_path, random_mlp(2))), "--name", "carded", "--task",
        "multiclass", "--labels", DIGITS, "--image", "28x28",
        "--eval", str(held_out(tmp_path, x, y)), "--models-dir", str(models),
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    version = models / "carded" / "1"
    manifest = json.loads((version / "manifest.json").read_text())
    card = (version / "README.md").read_bytes()
    import hashlib

    [entry] = manifest["report_files"]
    assert entry == {
        "file": "README.md",
        "sha256": hashlib.sha256(card).hexdigest(),
        "title": "model card",
    }
    text = card.decode()
    assert text.startswith("# `carded`: model card")
    assert f"| accuracy | {manifest['metrics']['accuracy']:.4f} |" in text
    assert "On `held_out.npz`, 120 held-out rows" in text
    with running(models, reload_interval_s=0) as srv:
        detail = httpx.get(srv.url + "/v1/models/carded").json()
        [link] = detail["versions"][0]["report"]
        served = httpx.get(srv.url + link["url"])
        assert served.status_code == 200 and served.content == card


def test_a_graph_published_without_eval_says_so_in_its_card(tmp_path: Path) -> None:
    run = logitserve(
        "publish", str(save(tmp_path, course_dense_model())), "--name", "plain", "--task",
        "multilabel", "--labels", "a,b,c", "--features", "x1,x2",
        "--models-dir", str(tmp_path / "models"),
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    card = (tmp_path / "models" / "plain" / "1" / "README.md").read_text()
    assert "None: published without held-out data (`--eval`)" in card
    assert "features in natural units: x1, x2" in card


def classifier(classes: int) -> tuple[object, np.ndarray]:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(classes)
    x = rng.normal(size=(300, 4)).astype(np.float32)
    y = np.digitize(x[:, 0] + 0.5 * x[:, 1], np.linspace(-1, 1, classes + 1)[1:-1])
    return LogisticRegression().fit(x, y), x


def test_skl2onnx_default_export_is_refused_with_the_fix(tmp_path: Path) -> None:
    from skl2onnx import to_onnx

    model, x = classifier(3)
    path = save(tmp_path, to_onnx(model, x[:1]))
    run = logitserve(
        "publish", str(path), "--name", "iris", "--task", "multiclass", "--labels", "a,b,c",
        "--features", "f1,f2,f3,f4", "--models-dir", str(tmp_path / "models"),
    )  # fmt: skip
    assert run.returncode == 1
    assert "the graph has 2 outputs ['output_label', 'output_probability']" in run.stderr
    assert "--output NAME" in run.stderr and "'zipmap': False, 'raw_scores': True" in run.stderr
    wrong = logitserve(
        "publish", str(path), "--name", "iris", "--task", "multiclass", "--labels", "a,b,c",
        "--features", "f1,f2,f3,f4", "--output", "output_probability",
        "--models-dir", str(tmp_path / "models"),
    )  # fmt: skip
    assert wrong.returncode == 1 and "is seq(map(int64,tensor(float)))" in wrong.stderr


def test_torch_dynamo_export_is_refused_with_the_fix_and_the_fixed_export_serves(
    tmp_path: Path,
) -> None:
    """torch.onnx.export(dynamo=True) keeps even a tiny model's weights in model.onnx.data."""
    import torch

    from tests.servers import running

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10)).eval()
    sample = torch.zeros(2, 8, 8)
    default = tmp_path / "default" / "model.onnx"
    default.parent.mkdir()
    # torch 2.13's exporter warns about its own pytree code (training/export.py says so too).
    warnings.filterwarnings("ignore", r"`isinstance\(treespec, LeafSpec\)`", FutureWarning)
    torch.onnx.export(net, (sample,), str(default), dynamo=True, verbose=False)
    assert (default.parent / "model.onnx.data").exists()
    options = ["--name", "torchy", "--task", "multiclass", "--labels", DIGITS, "--image", "8x8"]
    models = ["--models-dir", str(tmp_path / "models")]
    run = logitserve("publish", str(default), *options, *models)
    assert run.returncode == 1
    assert "external data files" in run.stderr and "external_data=False" in run.stderr
    fixed = tmp_path / "fixed.onnx"  # the README's recipe
    torch.onnx.export(
        net, (sample,), str(fixed), dynamo=True, external_data=False, verbose=False,
        input_names=["pixels"], output_names=["logits"],
        dynamic_shapes=({0: torch.export.Dim("batch")},),
    )  # fmt: skip
    run = logitserve("publish", str(fixed), *options, *models)
    assert run.returncode == 0, run.stderr
    digit = np.zeros((8, 8), np.uint8)
    digit[2:6, 2:6] = 200
    fitted = uploads.to_model_input(uploads.decode(png(digit), 10**6), 8, 8)
    with torch.no_grad():
        expected = net(torch.from_numpy(fitted.reshape(1, 8, 8).astype(np.float32))).numpy()[0]
    with running(tmp_path / "models", reload_interval_s=0) as srv:
        r = httpx.post(
            srv.url + "/v1/models/torchy/predict/image", files={"files": ("d.png", png(digit))}
        )
        assert r.status_code == 200, r.text
    assert r.json()["predictions"][0]["label"] == str(int(np.argmax(expected)))
