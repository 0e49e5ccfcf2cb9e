"""The train image: the training CLI as entry point, publishing into whatever is mounted at
/models, which a serve container with the same folder picks up by hot reload."""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import pytest

from tests.containers.conftest import Images, world_writable
from tests.containers.engine import Engine
from tests.servers import wait_until
from tests.training.conftest import write_digit_folder

pytestmark = [pytest.mark.containers, pytest.mark.timeout(2400)]


def test_the_image_runs_as_an_unprivileged_user_by_default(engine: Engine, images: Images) -> None:
    config = json.loads(engine("image", "inspect", images.train).stdout)[0]["Config"]
    assert config["User"] == "10001"
    assert config["Entrypoint"] == ["python", "/opt/logitserve/train_entrypoint.py"]


def test_a_dry_run_publishes_into_the_mount_and_a_running_server_serves_it(
    engine: Engine, images: Images, tmp_path: Path
) -> None:
    models = world_writable(tmp_path / "models")
    # The mount replaces the image's shipped models: this server starts with none.
    with engine.serving(images.serve, "-v", f"{models}:/models:ro") as (_, url):
        assert httpx.get(f"{url}/v1/models").json()["models"] == []

        trained = engine.run_to_completion(
            images.train,
            "--rm",
            "-v",
            f"{models}:/models",
            args=["train", "mnist", "--dry-run", "--quiet"],
        )
        # The arguments went straight to the training CLI (the entry point).
        assert "published mnist version 1" in trained.stdout, trained.stdout + trained.stderr
        assert (models / "mnist" / "1" / "manifest.json").is_file()

        # Hot reload: served within seconds, no restart.
        wait_until(
            lambda: httpx.get(f"{url}/v1/models/mnist").json().get("serving_version") == 1,
            timeout=15,
        )
        r = httpx.post(f"{url}/v1/models/mnist/predict", json={"instances": [[0] * 784]})
        assert r.status_code == 200 and len(r.json()["predictions"][0]["probabilities"]) == 10


def test_started_as_root_it_publishes_as_the_owner_of_the_mount(
    engine: Engine, images: Images, tmp_path: Path
) -> None:
    """What Compose does: the trainer starts as root and becomes the folder's owner."""
    models = tmp_path / "models"
    models.mkdir()
    models.chmod(0o755)  # writable by its owner alone
    os.chown(models, 4321, 4321)
    trained = engine.run_to_completion(
        images.train,
        "--rm",
        "--user",
        "0:0",
        "-v",
        f"{models}:/models",
        args=["train", "coffee", "--dry-run", "--quiet"],
    )
    assert "published coffee version 1" in trained.stdout, trained.stdout + trained.stderr
    published = models / "coffee" / "1"
    assert {(p.stat().st_uid, p.stat().st_gid) for p in [published, *published.iterdir()]} == {
        (4321, 4321)
    }


def test_it_trains_your_images_from_a_mounted_data_folder_and_refuses_bad_data_with_2(
    engine: Engine, images: Images, tmp_path: Path
) -> None:
    data = world_writable(tmp_path / "data")
    write_digit_folder(data / "digits", {"zero": 0, "one": 1, "seven": 7}, 30)
    models = world_writable(tmp_path / "models")
    mounts = ["-v", f"{data}:/data:ro", "-v", f"{models}:/models"]
    trained = engine.run_to_completion(
        images.train,
        "--rm",
        *mounts,
        args=["train", "digits", "--images", "/data/digits", "--net", "mlp", "--epochs", "5"],
    )
    output = trained.stdout + trained.stderr
    assert "digits: reading the images in /data/digits" in trained.stderr, output
    assert "digits: read 90 images; one 30, seven 30, zero 30" in trained.stderr, output
    assert "published digits version 1" in trained.stdout and "now serves" in trained.stdout
    assert json.loads((models / "digits" / "serving.json").read_text())["gate"]["metric"] == (
        "accuracy"
    )
    (data / "digits" / "eight").mkdir()
    refused = engine(
        "run", "--rm", *mounts, images.train, "train", "digits", "--images", "/data/digits",
        check=False, timeout=300,
    )  # fmt: skip
    assert refused.returncode == 2, refused.stdout + refused.stderr
    # After the status line that said what it was reading, the one line naming the folder.
    assert refused.stderr.strip().splitlines()[-2:] == [
        "digits: reading the images in /data/digits",
        "error: /data/digits/eight: no PNG or JPEG images in this class folder",
    ]
    assert sorted(p.name for p in (models / "digits").iterdir()) == ["1", "serving.json"]
