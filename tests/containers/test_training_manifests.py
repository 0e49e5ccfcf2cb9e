"""deploy/training/ (an Indexed Job running torchrun with the c10d rendezvous) and
deploy/kubeflow/pytorchjob.yaml (the same for Kubeflow's Training Operator) are valid, offline:
the Kubernetes resources against kubernetes-validate's schemas (strict: a misspelt field fails),
the PyTorchJob against the operator's API (tests/containers/schemas/pytorchjob-v1.json) and its
admission rules, with each pod template against Kubernetes' own PodTemplateSpec. And they agree
with each other, with the train image and with the service: data read-only, the models claim the
service reads, written by rank 0 (tests/training/test_two_nodes.py runs the Job's command).

No container engine or cluster needed: these run in every test run."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.containers.engine import ROOT

TRAINING = ROOT / "deploy" / "training"
PYTORCHJOB = ROOT / "deploy" / "kubeflow" / "pytorchjob.yaml"
SERVING_CLAIM = ROOT / "deploy" / "kubernetes" / "pvc.yaml"
SCHEMA = json.loads((Path(__file__).parent / "schemas" / "pytorchjob-v1.json").read_text())
# Indexed Jobs (completionMode, JOB_COMPLETION_INDEX) are GA from 1.24; the oldest schema
# shipped is checked too.
VERSIONS = ["1.27.0", kubernetes_validate.latest_version()]


def documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def resources() -> dict[str, dict[str, Any]]:
    """kind -> the one resource of that kind among the files kustomization.yaml lists."""
    found = {}
    for name in documents(TRAINING / "kustomization.yaml")[0]["resources"]:
        for doc in documents(TRAINING / name):
            assert doc["kind"] not in found, f"two {doc['kind']}s"
            found[doc["kind"]] = doc
    return found


def pod_is_valid_kubernetes(template: dict[str, Any], version: str) -> None:
    """A pod template, as Kubernetes' own PodTemplate resource carries one."""
    wrapped = {"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": "t"}}
    kubernetes_validate.validate({**wrapped, "template": template}, version, strict=True)


def env_of(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container.get("env", [])}


def mounts_of(pod: dict[str, Any], container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """mountPath -> {the mount, and the volume it mounts under "volume"}."""
    volumes = {v["name"]: v for v in pod["volumes"]}
    return {m["mountPath"]: {**m, "volume": volumes[m["name"]]} for m in container["volumeMounts"]}


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("path", sorted(TRAINING.glob("*.yaml")), ids=lambda p: p.name)
def test_each_training_manifest_is_valid_kubernetes(path: Path, version: str) -> None:
    for doc in documents(path):
        if doc["kind"] != "Kustomization":
            kubernetes_validate.validate(doc, version, strict=True)


def test_kustomization_lists_every_manifest_and_names_the_train_image() -> None:
    kustomization = documents(TRAINING / "kustomization.yaml")[0]
    on_disk = {p.name for p in TRAINING.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == on_disk
    (container,) = resources()["Job"]["spec"]["template"]["spec"]["containers"]
    assert container["image"].split(":")[0] in {i["name"] for i in kustomization["images"]}
    assert container["image"].split(":")[0] == "logitserve-train"


def test_the_job_is_two_indexed_pods_meeting_through_c10d_at_node_0() -> None:
    found = resources()
    job, service = found["Job"], found["Service"]
    spec, pod = job["spec"], job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = env_of(container)
    assert spec["completionMode"] == "Indexed"
    assert spec["completions"] == spec["parallelism"] == int(env["NODES"]) == 2
    # Node 0 is <job>-0.<service>: the headless service names the pods of the subdomain.
    assert pod["subdomain"] == service["metadata"]["name"]
    assert service["spec"]["clusterIP"] == "None" and service["spec"]["publishNotReadyAddresses"]
    assert (
        service["spec"]["selector"].items() <= job["spec"]["template"]["metadata"]["labels"].items()
    )
    host, port = env["RDZV_ENDPOINT"].rsplit(":", 1)
    assert host == f"{job['metadata']['name']}-0.{service['metadata']['name']}"
    assert (
        int(port) == service["spec"]["ports"][0]["port"] == container["ports"][0]["containerPort"]
    )
    (script,) = container["args"]
    words = shlex.split(script)
    assert words[:2] == ["exec", "torchrun"]
    assert {"--nnodes=$NODES", "--rdzv-backend=c10d", "--rdzv-endpoint=$RDZV_ENDPOINT"} <= set(
        words
    )
    # Node 0 hosts the rendezvous store, the others connect to it.
    assert any(w.startswith("--rdzv-conf=is_host=") and "JOB_COMPLETION_INDEX" in w for w in words)
    assert words[words.index("-m") : words.index("-m") + 5] == [
        "-m", "training", "train", "$MODEL", "--images",
    ]  # fmt: skip
    assert spec["backoffLimit"] == 0  # one node failing fails the run, not a lone retry


def test_the_job_reads_data_read_only_and_publishes_into_the_services_claim() -> None:
    job = resources()["Job"]
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env, mounts = env_of(container), mounts_of(pod, container)
    data = mounts["/data"]
    assert data["readOnly"] and data["volume"]["persistentVolumeClaim"]["readOnly"]
    assert env["DATA"].startswith("/data/")
    assert (
        data["volume"]["persistentVolumeClaim"]["claimName"]
        == (resources()["PersistentVolumeClaim"]["metadata"]["name"])
    )
    serving_claim = documents(SERVING_CLAIM)[0]
    models = mounts[env["MODELS_DIR"]]
    assert (
        models["volume"]["persistentVolumeClaim"]["claimName"] == serving_claim["metadata"]["name"]
    )
    assert not models.get("readOnly")
    # Both nodes (and every service replica) mount the claims at once.
    assert serving_claim["spec"]["accessModes"] == ["ReadWriteMany"]
    assert resources()["PersistentVolumeClaim"]["spec"]["accessModes"] == ["ReadWriteMany"]
    assert "emptyDir" in mounts[env["CHECKPOINT_DIR"]]["volume"]
    assert "emptyDir" in mounts[env["HOME"]]["volume"]  # caches under a read-only root
    security = pod["securityContext"]
    assert security["runAsUser"] == 10001 and security["runAsNonRoot"]
    assert security["fsGroup"] == 10001  # the claims writable by the image's user
    assert container["securityContext"]["readOnlyRootFilesystem"]


@pytest.mark.parametrize("version", VERSIONS)
def test_the_pytorchjob_is_valid_for_the_operator_and_its_pods_for_kubernetes(
    version: str,
) -> None:
    (job,) = documents(PYTORCHJOB)
    jsonschema.validate(job, SCHEMA)
    for replica in job["spec"]["pytorchReplicaSpecs"].values():
        pod_is_valid_kubernetes(replica["template"], version)


def test_the_pytorchjob_schema_refuses_what_the_operator_refuses() -> None:
    (job,) = documents(PYTORCHJOB)
    spec = job["spec"]
    misspelt = {**job, "spec": {**spec, "elasticPolicy": {"rdzvBackEnd": "c10d"}}}
    unknown_role = {**job, "spec": {**spec, "pytorchReplicaSpecs": {"Chief": {"template": {}}}}}
    for bad in (misspelt, unknown_role):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, SCHEMA)


def test_the_pytorchjob_follows_the_operators_admission_rules_and_trains_like_the_job() -> None:
    (job,) = documents(PYTORCHJOB)
    assert re.fullmatch(r"[a-z]([-a-z0-9]*[a-z0-9])?", job["metadata"]["name"])  # DNS-1035
    spec = job["spec"]
    workers = spec["pytorchReplicaSpecs"]["Worker"]  # required with an elastic policy
    elastic = spec["elasticPolicy"]
    assert elastic["rdzvBackend"] == "c10d"
    assert elastic["minReplicas"] == elastic["maxReplicas"] == workers["replicas"] == 2
    pod = workers["template"]["spec"]
    (container,) = pod["containers"]
    assert container["name"] == "pytorch" and container["image"].startswith("logitserve-train:")
    # torchrun takes --nnodes, --rdzv-* and --nproc-per-node from the operator's PET_* variables.
    assert container["command"] == ["torchrun"]
    args = container["args"]
    assert args[:4] == ["-m", "training", "train", "digits"]
    job_pod = resources()["Job"]["spec"]["template"]["spec"]
    claims = {
        path: m["volume"].get("persistentVolumeClaim", {}).get("claimName")
        for path, m in mounts_of(pod, container).items()
    }
    job_claims = {
        path: m["volume"].get("persistentVolumeClaim", {}).get("claimName")
        for path, m in mounts_of(job_pod, job_pod["containers"][0]).items()
    }
    assert claims == job_claims
    assert args[args.index("--models-dir") + 1] == "/models"
    assert args[args.index("--images") + 1].startswith("/data/")
