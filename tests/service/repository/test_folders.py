"""Reading the model repository: names, versions, stray folders, links, manifests, sha256,
and the execution provider really in use."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from modelrepo.manifest import Manifest
from service.errors import InvalidInput
from service.repository.folders import (
    LoadError,
    VersionFolder,
    check_name,
    check_version,
    read_manifest,
    read_version,
    scan,
    scan_model,
)
from service.runtime.sessions import Runtime
from tests.builders import image_manifest, publish, random_mlp


@pytest.mark.parametrize(
    "name",
    [
        "mnist",
        "mnist-cnn",
        "a",
        "x9",
        "a" * 64,
        "densenet_onnx",
        "Mnist",
        "resnet50.v1",
        "_x",
        "a..b",
    ],
)
def test_valid_names(name: str) -> None:
    assert check_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "..",
        ".",
        "a/../b",
        "/etc",
        "a\\b",
        ".hidden",
        ".tmp-1",
        "a:b",
        "mnist\x00",
        "mnіst",
        "-a",
        "a" * 65,
        "a b",
        "%2e%2e",
    ],
)
def test_invalid_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidInput):
        check_name(name)


@pytest.mark.parametrize("text", ["0", "01", "-1", "1.0", "", "1e3", "١", "99999999999"])
def test_invalid_versions_are_refused(text: str) -> None:
    with pytest.raises(InvalidInput):
        check_version(text)


def test_scan_finds_versions_and_reports_strays(tmp_path: Path) -> None:
    publish(tmp_path, random_mlp(), image_manifest("mnist", 1))
    for stray in ("01", "1.5", ".tmp-123", "latest"):
        (tmp_path / "mnist" / stray).mkdir()
    (tmp_path / "Not-A-Name").mkdir()
    models, error = scan(tmp_path)
    assert error is None and set(models) == {"mnist"}
    mnist = models["mnist"]
    assert set(mnist.versions) == {1}
    assert set(mnist.ignored) == {"01", "1.5", "latest"}  # .tmp-* is a version being written


def test_an_empty_model_folder_is_no_model_yet(tmp_path: Path) -> None:
    (tmp_path / "arriving" / ".tmp-123-1").mkdir(parents=True)  # its first version, being copied
    (tmp_path / "empty").mkdir()
    (tmp_path / "misnamed" / "v1").mkdir(parents=True)
    models, _ = scan(tmp_path)
    assert set(models) == {"misnamed"}  # a stray folder is worth reporting


def test_links_out_of_the_repository_are_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    publish(outside, random_mlp(), image_manifest("mnist", 1))
    repo = tmp_path / "models"
    (repo / "mnist").mkdir(parents=True)
    os.symlink(outside / "mnist" / "1", repo / "mnist" / "1")
    os.symlink(outside / "mnist", repo / "other")
    models, _ = scan(repo)
    assert models["mnist"].broken[1] == "links outside the model repository"
    assert models["other"].error == "links outside the model repository"


def test_unreadable_repository_is_reported(tmp_path: Path) -> None:
    models, error = scan(tmp_path / "missing")
    assert models == {} and error is not None and "cannot read" in error


def test_read_version_checks_sha256_and_size(tmp_path: Path) -> None:
    folder = publish(tmp_path, random_mlp(), image_manifest("mnist", 1))
    models, _ = scan(tmp_path)
    version = models["mnist"].versions[1]
    manifest, data = read_version(version, 10_000_000)
    assert isinstance(manifest, Manifest) and data == (folder / "model.onnx").read_bytes()
    with pytest.raises(LoadError, match="larger than the limit"):
        read_version(version, 1000)
    (folder / "model.onnx").write_bytes(data + b"x")
    with pytest.raises(LoadError, match="sha256"):
        read_version(version, 10_000_000)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"task": "regression"}, "task"),
        ({"labels": ["a"]}, "labels"),
        (
            {
                "output": {
                    "name": "logits",
                    "datatype": "FP32",
                    "shape": [-1, 10],
                    "activation": "sigmoid",
                }
            },
            "activation",
        ),
        ({"model_sha256": "xyz"}, "model_sha256"),
        ({"format": 2}, "format"),
    ],
)
def test_invalid_manifests_say_what_is_wrong(
    tmp_path: Path, change: dict[str, object], words: str
) -> None:
    publish(
        tmp_path,
        random_mlp(),
        {**image_manifest("mnist", 1), **change},
        fix_sha="model_sha256" not in change,
    )
    version = scan(tmp_path)[0]["mnist"].versions[1]
    with pytest.raises(LoadError, match=words):
        read_version(version, 10_000_000)


def test_the_provider_really_in_use_is_reported() -> None:
    """ONNX Runtime falls back to the CPU silently; the session says so."""
    manifest = Manifest.model_validate({**image_manifest("mnist", 1), "model_sha256": "0" * 64})
    session = Runtime(["CUDAExecutionProvider", "CPUExecutionProvider"], 1).create(
        random_mlp().SerializeToString(), manifest
    )
    if session.provider == "CUDAExecutionProvider":
        assert session.fallback is None
    else:
        assert session.provider == "CPUExecutionProvider"
        assert session.fallback is not None and "CUDAExecutionProvider" in session.fallback


def test_a_metric_that_could_not_be_computed_is_null(tmp_path: Path) -> None:
    manifest = {**image_manifest("mnist", 1), "metrics": {"accuracy": 0.5, "roc_auc": None}}
    publish(tmp_path, random_mlp(), manifest)
    loaded, _ = read_version(scan(tmp_path)[0]["mnist"].versions[1], 10_000_000)
    assert loaded.metrics == {"accuracy": 0.5, "roc_auc": None}


def test_a_model_folder_deleted_while_being_read_is_gone_not_broken(tmp_path: Path) -> None:
    folder = scan_model(tmp_path, "vanished")
    assert folder.gone and not folder.versions


def test_a_version_whose_labels_are_too_large_is_not_loaded(tmp_path: Path) -> None:
    folder = tmp_path / "mnist" / "1"
    folder.mkdir(parents=True)
    labels = [f"{i:0225d}" for i in range(10)] * 200  # 450 KB
    document = image_manifest("mnist", 1, labels=labels) | {"model_sha256": "0" * 64}
    (folder / "manifest.json").write_text(json.dumps(document))
    with pytest.raises(LoadError, match="labels: the labels take 450000 bytes"):
        read_manifest(VersionFolder("mnist", 1, folder, ()))
