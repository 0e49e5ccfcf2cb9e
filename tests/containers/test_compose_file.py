"""docker-compose.yml and the train image's entry point, read without an engine: the base
image is a build argument Compose passes through, and the trainer works whoever invokes it."""

from __future__ import annotations

import fcntl
import os
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ENTRYPOINT = ROOT / "deploy" / "train_entrypoint.py"


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def dockerfile_default(arg: str) -> str:
    match = re.search(rf"^ARG {arg}=(\S+)$", (ROOT / "Dockerfile").read_text(), re.MULTILINE)
    assert match, arg
    return match.group(1)


def test_both_builds_take_their_base_image_from_one_variable() -> None:
    default = dockerfile_default("PYTHON_IMAGE")
    for service in ("api", "trainer"):
        args = compose()["services"][service]["build"]["args"]
        # Unset, the Dockerfile's own default; set, a reachable copy of it.
        assert args["PYTHON_IMAGE"] == f"${{LOGITSERVE_PYTHON_IMAGE:-{default}}}", service


def test_the_api_publishes_http_and_grpc_and_the_image_exposes_both() -> None:
    api = compose()["services"]["api"]
    # On the loopback address by default, as `make serve` binds: not every interface.
    assert api["ports"] == [
        "${LOGITSERVE_BIND:-127.0.0.1}:${LOGITSERVE_API_PORT:-8000}:8000",
        "${LOGITSERVE_BIND:-127.0.0.1}:${LOGITSERVE_GRPC_HOST_PORT:-8001}:8001",
    ]
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^EXPOSE 8000 8001$", dockerfile, re.MULTILINE)
    assert "LOGITSERVE_GRPC_PORT=8001" in dockerfile


def test_both_builds_take_what_an_offline_mirror_needs() -> None:
    """The train image built only by hand where PyPI and download.pytorch.org are out of
    reach: Compose passes the Dockerfile's pip options and torch index through."""
    services = compose()["services"]
    for service in ("api", "trainer"):
        args = services[service]["build"]["args"]
        assert args["PIP_OPTIONS"] == "${LOGITSERVE_PIP_OPTIONS:-}", service
    default = dockerfile_default("TORCH_CPU_INDEX")
    trainer = services["trainer"]["build"]["args"]
    assert trainer["TORCH_CPU_INDEX"] == f"${{LOGITSERVE_TORCH_CPU_INDEX-{default}}}"
    for variable in ("LOGITSERVE_PIP_OPTIONS", "LOGITSERVE_TORCH_CPU_INDEX", "LOGITSERVE_BIND"):
        assert f"#   {variable}" in (ROOT / "docker-compose.yml").read_text(), variable


def test_the_headers_commands_run_the_trainer_with_its_profile() -> None:
    """The trainer has `profiles: [train]`: `docker compose run trainer` without the profile
    does not find it."""
    header = [
        line
        for line in (ROOT / "docker-compose.yml").read_text().splitlines()
        if line.startswith("#")
    ]
    runs = [line for line in header if "compose" in line and " trainer " in line]
    assert runs and all("--profile train" in line for line in runs), runs
    assert compose()["services"]["trainer"]["profiles"] == ["train"]


def test_the_trainer_starts_as_root_to_become_the_models_owner() -> None:
    trainer = compose()["services"]["trainer"]
    assert trainer["user"] == "${LOGITSERVE_TRAIN_USER:-0:0}"
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["python", "/opt/logitserve/train_entrypoint.py"]' in dockerfile
    assert "!deploy/train_entrypoint.py" in (ROOT / ".dockerignore").read_text()


def test_the_trainer_reads_your_data_read_only_at_data() -> None:
    volumes = compose()["services"]["trainer"]["volumes"]
    assert "${LOGITSERVE_DATA_MOUNT:-./data}:/data:ro" in volumes
    assert "/data" in (ROOT / "Dockerfile").read_text().split("FROM python AS train")[1]


def becomes(folder: Path) -> tuple[int, int, list[int]]:
    """(uid, gid, groups) of a process that ran the entry point's become_owner_of(folder)."""
    code = (
        f"import os, sys; sys.path.insert(0, {str(ENTRYPOINT.parent)!r}); "
        "from train_entrypoint import become_owner_of; become_owner_of(sys.argv[1]); "
        "print(os.getuid(), os.getgid(), ','.join(map(str, os.getgroups())))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(folder)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    groups = [int(g) for g in out[2].split(",")] if len(out) > 2 else []
    return int(out[0]), int(out[1]), groups


needs_root = pytest.mark.skipif(
    os.getuid() != 0, reason="changing users needs root, as the container's entry point has"
)


@needs_root
def test_started_as_root_it_becomes_the_owner_of_the_models_folder(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    os.chown(models, 4321, 4322)
    assert becomes(models) == (4321, 4322, [])  # no supplementary groups kept either


@needs_root
def test_a_root_owned_folder_keeps_root(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    assert becomes(models)[:2] == (0, 0)


def terminal_size(fd: int) -> tuple[int, int]:
    rows, cols, _, _ = struct.unpack("HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))
    return rows, cols


def test_a_terminal_without_a_size_gets_80_columns_and_a_sized_one_keeps_its_own() -> None:
    sys.path.insert(0, str(ENTRYPOINT.parent))
    try:
        from train_entrypoint import size_terminals
    finally:
        sys.path.remove(str(ENTRYPOINT.parent))
    sizeless, sized = os.openpty(), os.openpty()
    try:
        assert terminal_size(sizeless[1]) == (0, 0)  # what podman gives `run -t` from a script
        fcntl.ioctl(sized[1], termios.TIOCSWINSZ, struct.pack("HHHH", 50, 132, 0, 0))
        size_terminals([sizeless[1], sized[1]])
        assert terminal_size(sizeless[1]) == (24, 80)
        assert terminal_size(sized[1]) == (50, 132)
    finally:
        for fd in (*sizeless, *sized):
            os.close(fd)
