"""docker-compose.yml: valid for Compose 1.29 and later, with and without the GPU override;
`up` serves the mounted models; a `trainer` run publishes a version that the running `api`
serves within seconds; `down` leaves nothing behind."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from tests.containers.conftest import SERVE_TAG, Images
from tests.containers.engine import PYTHON_IMAGE, ROOT, Engine, free_port, wait_for_http
from tests.servers import wait_until

pytestmark = [pytest.mark.containers, pytest.mark.timeout(2400)]

GPU = ["-f", "docker-compose.yml", "-f", "docker-compose.gpu.yml"]


def config_checker(engine: Engine) -> list[str]:
    """Debian's docker-compose 1.29 (from setup.sh) checks the schema offline; Docker has v2."""
    if shutil.which("docker-compose", path=engine.env.get("PATH")):
        return ["docker-compose"]
    return ["docker", "compose"]


def test_the_compose_files_pass_the_schema_check(engine: Engine) -> None:
    engine.run_cmd([*config_checker(engine), "-f", "docker-compose.yml", "config", "-q"])
    engine.run_cmd([*config_checker(engine), *GPU, "config", "-q"])


def test_the_gpu_override_asks_for_nvidia_gpus_and_the_cuda_builds(engine: Engine) -> None:
    merged = yaml.safe_load(engine.run_cmd([*config_checker(engine), *GPU, "config"]).stdout)
    services = merged["services"]
    for service in ("api", "trainer"):
        devices = services[service]["deploy"]["resources"]["reservations"]["devices"]
        assert devices == [{"driver": "nvidia", "count": "all", "capabilities": ["gpu"]}]
    assert services["api"]["build"]["args"]["ONNXRUNTIME"] == "gpu"
    assert services["trainer"]["build"]["args"]["TORCH"] == "cuda"
    # Merged, not replaced: the override keeps the base file's mount and health check.
    assert services["api"]["volumes"] and services["api"]["healthcheck"]


@dataclass
class Project:
    engine: Engine
    name: str
    url: str
    models: Path

    def compose(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return self.engine.run_cmd(
            [*self.engine.compose_argv(), "-p", self.name, *args], timeout=timeout
        )


@pytest.fixture
def project(engine: Engine, images: Images, tmp_path: Path) -> Iterator[Project]:
    """A compose project on the test images and a copy of the shipped models; always down."""
    models = tmp_path / "models"
    shutil.copytree(ROOT / "models", models)
    # Writable by its owner only, as a fresh clone's folder is: no LOGITSERVE_TRAIN_USER
    # either, so the trainer must find out whose it is (root's, when the tests run as root).
    models.chmod(0o755)
    port = free_port()
    env = {
        **{k: v for k, v in engine.env.items() if k != "LOGITSERVE_TRAIN_USER"},
        "LOGITSERVE_TAG": SERVE_TAG.split(":")[1],
        "LOGITSERVE_MODELS_MOUNT": str(models),
        "LOGITSERVE_API_PORT": str(port),
    }
    project = Project(
        Engine(engine.name, env),
        f"lsctest{uuid.uuid4().hex[:8]}",
        f"http://127.0.0.1:{port}",
        models,
    )
    try:
        yield project
    finally:
        project.engine.run_cmd(
            [*engine.compose_argv(), "-p", project.name, "down", "-v", "-t", "2"],
            timeout=120,
            check=False,
        )


def test_up_serves_and_a_trainer_run_is_served_by_the_running_api(project: Project) -> None:
    project.compose("up", "-d")
    url = project.url
    wait_for_http(f"{url}/v2/health/ready", what="the compose api")

    running = project.engine(
        "ps", "-q", "--filter", f"label=com.docker.compose.project={project.name}"
    ).stdout.split()
    assert len(running) == 1, "`up` starts the api only; the trainer waits for `run`"
    host = project.engine.inspect(running[0])["HostConfig"]
    assert host["RestartPolicy"]["Name"] == "unless-stopped" and host["ReadonlyRootfs"]

    before = httpx.get(f"{url}/v1/models/mnist").json()["serving_version"]
    r = httpx.post(f"{url}/v1/models/mnist/predict", json={"instances": [[0] * 784]})
    assert r.status_code == 200, r.text

    trained = project.compose(
        "--profile", "train", "run", "--rm", "trainer", "train", "mnist", "--dry-run",
        timeout=300,
    )  # fmt: skip
    output = trained.stdout + trained.stderr
    new = before + 1
    assert f"published mnist version {new}" in output
    # The progress bar shows, also where compose runs without a terminal (as here).
    assert "mnist: 100%|" in output, output[-2000:]
    # The shipped serving.json's gate: a one-step model waits as a candidate, and says so.
    assert f"mnist {new} (accuracy" in output and f"is a candidate; {before} (" in output, output
    # Hot reload: the running api loads it within seconds, no restart, addressable by version.
    wait_until(
        lambda: (
            httpx.post(
                f"{url}/v1/models/mnist/versions/{new}/predict", json={"instances": [[0] * 784]}
            ).status_code
            == 200
        ),
        timeout=15,
    )
    assert httpx.get(f"{url}/v1/models/mnist").json()["serving_version"] == before
    published = project.models / "mnist" / str(new) / "model.onnx"
    assert published.is_file()
    # Written as the owner of the models folder, whoever that is.
    assert published.stat().st_uid == project.models.stat().st_uid


def test_compose_builds_from_the_given_base_image_and_keeps_the_healthcheck(
    engine: Engine, images: Images
) -> None:
    """LOGITSERVE_PYTHON_IMAGE reaches the build (the default base cannot be pulled here), and
    a podman build through compose keeps the HEALTHCHECK given BUILDAH_FORMAT=docker."""
    tag = f"composebuild{uuid.uuid4().hex[:6]}"
    env = {
        **engine.env,
        "LOGITSERVE_TAG": tag,
        "LOGITSERVE_PYTHON_IMAGE": PYTHON_IMAGE,
        "BUILDAH_FORMAT": "docker",  # what the README tells podman users to export
    }
    built = Engine(engine.name, env)
    image = f"logitserve:{tag}"
    try:
        built.run_cmd([*engine.compose_argv(), "-p", f"lsbuild{tag}", "build", "api"], timeout=1200)
        # The Go template reads the same on both engines (their JSON puts it in different places).
        check = built("image", "inspect", "--format", "{{json .Config.Healthcheck}}", image)
        assert "/v2/health/live" in " ".join(json.loads(check.stdout)["Test"])
        version = built(
            "run", "--rm", "--entrypoint", "python", image, "-c",
            "import sys; print(sys.version_info[:2])",
        ).stdout  # fmt: skip
        assert version.strip() == "(3, 11)", "built from LOGITSERVE_PYTHON_IMAGE"
    finally:
        built("rmi", image, check=False, timeout=120)
