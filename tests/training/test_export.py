"""ONNX export: the checker, the contract's tensors, raw inputs, and the parity gate."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from torch import nn

import training.pipeline
from training.config import RunOptions
from training.distributed import DistContext
from training.errors import ExportError, ParityError
from training.export import check_graph, export_onnx, onnx_logits, parity_gate
from training.loop import predict_logits
from training.pipeline import TrainReport, train_and_publish
from training.tasks import TASKS, get_task
from training.tasks.kinds import MULTICLASS

ALL = list(TASKS)
ONNX_TYPE = {"UINT8": onnx.TensorProto.UINT8, "FP32": onnx.TensorProto.FLOAT}


def onnx_path(report: TrainReport) -> Path:
    return report.published.path / "model.onnx"


@pytest.mark.parametrize("name", ALL)
def test_exported_graph_passes_the_full_onnx_checker(
    name: str, published: dict[str, TrainReport]
) -> None:
    onnx.checker.check_model(onnx.load(str(onnx_path(published[name]))), full_check=True)


@pytest.mark.parametrize("name", ALL)
def test_exported_graph_has_the_contracts_named_tensors_and_dynamic_batch(
    name: str, published: dict[str, TrainReport]
) -> None:
    task = get_task(name)
    model = onnx.load(str(onnx_path(published[name])))
    assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) >= 17
    (inp,), (out,) = model.graph.input, model.graph.output
    assert inp.name == task.input.name and out.name == "logits"
    assert inp.type.tensor_type.elem_type == ONNX_TYPE[task.input.datatype]
    assert out.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    in_dims = inp.type.tensor_type.shape.dim
    assert in_dims[0].dim_param and not in_dims[0].HasField("dim_value")
    assert [d.dim_value for d in in_dims[1:]] == list(task.input.shape[1:])
    assert [d.dim_value for d in out.type.tensor_type.shape.dim[1:]] == [task.output_size]


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("batch", [1, 3])
def test_exported_graph_runs_any_batch_size_on_raw_inputs(
    name: str, batch: int, published: dict[str, TrainReport]
) -> None:
    x = get_task(name).load_data(None).validation.x[:batch]
    logits = onnx_logits(onnx_path(published[name]), x)
    assert logits.shape == (batch, get_task(name).output_size)
    assert logits.dtype == np.float32 and np.isfinite(logits).all()


def test_image_graph_takes_uint8_pixels_and_refuses_floats(
    published: dict[str, TrainReport],
) -> None:
    session = ort.InferenceSession(
        str(onnx_path(published["mnist"])), providers=["CPUExecutionProvider"]
    )
    assert session.get_inputs()[0].type == "tensor(uint8)"
    with pytest.raises(Exception, match="(?i)type"):
        session.run(None, {"pixels": np.zeros((1, 784), np.float32)})


def test_graph_scales_inputs_itself_so_pixels_and_natural_units_go_in(
    published: dict[str, TrainReport],
) -> None:
    # A bright image and a dark image give different logits only if the graph sees 0-255.
    report = published["mnist"]
    x = np.stack([np.zeros(784, np.uint8), np.full(784, 255, np.uint8)])
    expected = predict_logits(report.model, x, torch.device("cpu"))
    np.testing.assert_allclose(onnx_logits(onnx_path(report), x), expected, atol=1e-4)


@pytest.mark.parametrize("name", ALL)
def test_exported_model_is_one_small_self_contained_file(
    name: str, published: dict[str, TrainReport]
) -> None:
    folder = published[name].published.path
    reports = [entry["file"] for entry in published[name].manifest["report_files"]]
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["manifest.json", "model.onnx", *reports]
    )
    model = onnx.load(str(folder / "model.onnx"), load_external_data=False)
    assert all(t.data_location != onnx.TensorProto.EXTERNAL for t in model.graph.initializer)
    assert (folder / "model.onnx").stat().st_size < 1_000_000


@pytest.mark.parametrize("name", ALL)
def test_onnx_runtime_logits_equal_pytorch_logits_on_validation_inputs(
    name: str, published: dict[str, TrainReport]
) -> None:
    report = published[name]
    x = get_task(name).load_data(None).validation.x[:512]
    torch_logits = predict_logits(report.model, x, torch.device("cpu"))
    assert np.abs(onnx_logits(onnx_path(report), x) - torch_logits).max() <= 1e-4
    assert report.parity.max_abs_diff <= 1e-4 and report.parity.samples > 0


def test_parity_gate_rejects_a_graph_that_disagrees_with_the_model(
    published: dict[str, TrainReport],
) -> None:
    report = published["tshirt"]
    other = copy.deepcopy(report.model)
    with torch.no_grad():
        for p in other.parameters():
            p.add_(0.01)
    x = get_task("tshirt").load_data(None).validation.x
    with pytest.raises(ParityError, match=r"differ by up to .* on 600 validation inputs"):
        parity_gate(onnx_path(report), other, x)


def test_export_refuses_a_graph_that_breaks_the_contract(tmp_path: Path) -> None:
    task = get_task("coffee")
    model = nn.Sequential(nn.Linear(2, 1))  # one logit
    claims_three = dataclasses.replace(task, kind=MULTICLASS, labels=("a", "b", "c"))
    with pytest.raises(ExportError, match=r"should be 'logits' FLOAT \[-1, 3\]"):
        export_onnx(model, claims_three, np.zeros((4, 2), np.float32), tmp_path / "m.onnx")
    export_onnx(model, task, np.zeros((4, 2), np.float32), tmp_path / "ok.onnx")
    check_graph(tmp_path / "ok.onnx", task)


def test_failed_parity_gate_publishes_nothing_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_export = training.pipeline.export_onnx

    def export_a_different_model(model: nn.Module, *args: object) -> None:
        broken = copy.deepcopy(model)
        with torch.no_grad():
            for p in broken.parameters():
                p.mul_(1.5)
        real_export(broken, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(training.pipeline, "export_onnx", export_a_different_model)
    options = RunOptions(
        device="cpu",
        models_dir=tmp_path / "models",
        checkpoint_dir=tmp_path / "ck",
        dry_run=True,
        progress=False,
    )
    with pytest.raises(ParityError, match="not published"):
        train_and_publish(get_task("coffee"), options, DistContext())
    assert list((tmp_path / "models" / "coffee").iterdir()) == []
