"""deploy/: the Kubernetes manifests are valid for the Kubernetes versions we support (schemas
shipped with kubernetes-validate: offline, strict, so a misspelt field fails) and agree with
the image and with each other; the KServe resources speak the Open Inference Protocol.

No container engine needed: these run in every test run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.containers.engine import ROOT

KUBERNETES = ROOT / "deploy" / "kubernetes"
KSERVE = ROOT / "deploy" / "kserve"
# autoscaling/v2 and policy/v1 are GA from 1.23; the oldest schema shipped is checked too.
VERSIONS = ["1.27.0", kubernetes_validate.latest_version()]


def documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def manifests() -> dict[str, dict[str, Any]]:
    """kind -> the one resource of that kind among the files kustomization.yaml lists."""
    found = {}
    for name in documents(KUBERNETES / "kustomization.yaml")[0]["resources"]:
        for doc in documents(KUBERNETES / name):
            assert doc["kind"] not in found, f"two {doc['kind']}s"
            found[doc["kind"]] = doc
    return found


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("path", sorted(KUBERNETES.glob("*.yaml")), ids=lambda p: p.name)
def test_each_manifest_is_valid_kubernetes(path: Path, version: str) -> None:
    for doc in documents(path):
        if doc["kind"] == "Kustomization":
            continue  # kustomize's own file, not an API object
        kubernetes_validate.validate(doc, version, strict=True)


def test_kustomization_lists_every_manifest_and_names_the_image() -> None:
    kustomization = documents(KUBERNETES / "kustomization.yaml")[0]
    on_disk = {p.name for p in KUBERNETES.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == on_disk
    image = manifests()["Deployment"]["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image.split(":")[0] in {i["name"] for i in kustomization["images"]}


def test_deployment_probes_health_and_runs_locked_down() -> None:
    pod = manifests()["Deployment"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["ports"] == [
        {"name": "http", "containerPort": 8000, "protocol": "TCP"},
        {"name": "grpc", "containerPort": 8001, "protocol": "TCP"},
    ]
    assert container["readinessProbe"]["httpGet"] == {"path": "/v2/health/ready", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/v2/health/live", "port": "http"}
    assert pod["securityContext"]["runAsNonRoot"] and pod["securityContext"]["runAsUser"] == 10001
    locked = container["securityContext"]
    assert locked["readOnlyRootFilesystem"] and not locked["allowPrivilegeEscalation"]
    assert locked["capabilities"]["drop"] == ["ALL"]
    # Longer than the service's 10 s drain after the preStop pause, or pods die mid-request.
    assert pod["terminationGracePeriodSeconds"] > 10 + 5


def test_models_come_read_only_from_the_claim_and_tmp_stays_writable() -> None:
    found = manifests()
    pod = found["Deployment"]["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m for m in pod["containers"][0]["volumeMounts"]}
    env = {e["name"]: e["value"] for e in pod["containers"][0]["env"]}

    models = volumes[mounts[env["LOGITSERVE_MODELS_DIR"]]["name"]]
    claim = found["PersistentVolumeClaim"]
    assert models["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    assert mounts["/models"]["readOnly"] and models["persistentVolumeClaim"]["readOnly"]
    # Every replica on every node mounts it at once.
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    # ONNX Runtime's scratch folder under a read-only root.
    assert "emptyDir" in volumes[mounts["/tmp"]["name"]]


def test_service_and_autoscaler_point_at_the_deployment() -> None:
    found = manifests()
    deployment = found["Deployment"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    service = found["Service"]["spec"]
    assert service["selector"].items() <= labels.items()
    assert [(p["name"], p["targetPort"]) for p in service["ports"]] == [
        ("http", "http"),
        ("grpc", "grpc"),
    ]
    assert service["ports"][1]["appProtocol"] == "kubernetes.io/h2c"  # gRPC, for meshes

    hpa = found["HorizontalPodAutoscaler"]
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    # CPU utilisation is measured against the request: without one the HPA cannot scale.
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"]["requests"]["cpu"]
    assert found["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_kserve_custom_predictor_speaks_v2_on_port_8000() -> None:
    isvc, _ = documents(KSERVE / "inferenceservice.yaml")
    assert isvc["apiVersion"] == "serving.kserve.io/v1beta1"
    assert isvc["kind"] == "InferenceService"
    (container,) = isvc["spec"]["predictor"]["containers"]
    # KServe's name for the predictor container, and its protocol switch for custom ones.
    assert container["name"] == "kserve-container"
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["PROTOCOL"] == "v2"
    assert env["LOGITSERVE_MODELS_DIR"] == "/mnt/models"  # where KServe puts STORAGE_URI
    assert container["ports"] == [{"containerPort": 8000, "protocol": "TCP"}]
    assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    assert container["securityContext"]["readOnlyRootFilesystem"]


def test_kserve_grpc_predictor_is_routed_to_the_grpc_port_and_probed_by_grpc() -> None:
    http, grpc = documents(KSERVE / "inferenceservice.yaml")
    (container,) = grpc["spec"]["predictor"]["containers"]
    # KServe routes one port per predictor; the name h2c makes it gRPC.
    assert container["ports"] == [{"name": "h2c", "containerPort": 8001, "protocol": "TCP"}]
    assert container["readinessProbe"]["grpc"] == {
        "port": 8001,
        "service": "inference.GRPCInferenceService",
    }
    assert container["livenessProbe"]["grpc"] == {"port": 8001}
    # Otherwise the same predictor as the HTTP one.
    (same,) = http["spec"]["predictor"]["containers"]
    for key in ("image", "env", "resources", "securityContext", "volumeMounts"):
        assert container[key] == same[key], key
    assert grpc["metadata"]["name"] != http["metadata"]["name"]


def test_kserve_scales_on_cpu_with_an_autoscaler_that_can() -> None:
    """Knative's autoscaler (KServe's Serverless default) scales on concurrency or RPS only:
    a CPU target needs raw Deployment mode and KServe's HPA class (both predictors)."""
    for isvc in documents(KSERVE / "inferenceservice.yaml"):
        predictor = isvc["spec"]["predictor"]
        assert predictor["scaleMetric"] == "cpu" and 0 < predictor["scaleTarget"] <= 100
        annotations = isvc["metadata"]["annotations"]
        assert annotations["serving.kserve.io/deploymentMode"] in ("RawDeployment", "Standard")
        assert annotations["serving.kserve.io/autoscalerClass"] == "hpa"
        assert predictor["minReplicas"] >= 1  # the HPA cannot scale to zero


def test_kserve_serving_runtime_route_declares_protocol_version_v2() -> None:
    runtime, isvc = documents(KSERVE / "servingruntime.yaml")
    assert runtime["kind"] == "ServingRuntime" and runtime["spec"]["protocolVersions"] == ["v2"]
    model = isvc["spec"]["predictor"]["model"]
    assert model["protocolVersion"] == "v2"
    assert model["runtime"] == runtime["metadata"]["name"]
    formats = {f["name"] for f in runtime["spec"]["supportedModelFormats"]}
    assert model["modelFormat"]["name"] in formats
    assert runtime["spec"]["containers"][0]["ports"][0]["containerPort"] == 8000
