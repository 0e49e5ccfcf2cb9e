"""The container engine the tests drive: Docker where a Docker engine answers, else rootful
podman set up by ../shared/containers/setup.sh (shared/CONTAINERS.md). One small surface
(build, run, exec, inspect, remove, compose) so the tests read the same on both.

Every command has its own time limit: a wedged engine fails a test, it never hangs the suite.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
SETUP_SCRIPT = ROOT.parent / "shared" / "containers" / "setup.sh"
# The stand-in base image setup.sh makes; also an official image, so Docker users have it too.
PYTHON_IMAGE = "python:3.11-slim"

NO_ENGINE = (
    "no container engine: no Docker engine answers and ../shared/containers/setup.sh "
    "(which sets up podman) is not there; README.md, Containers, says how to install one"
)


class EngineError(RuntimeError):
    """A container engine command failed; the message carries its output."""


@dataclass
class Engine:
    name: str  # "docker" or "podman"
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))

    # -- plumbing ---------------------------------------------------------------------------
    def run_cmd(
        self, argv: Sequence[str], timeout: float = 60, check: bool = True, cwd: Path = ROOT
    ) -> subprocess.CompletedProcess[str]:
        try:
            done = subprocess.run(
                list(argv),
                capture_output=True,
                text=True,
                timeout=timeout,
                env=self.env,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired as error:
            raise EngineError(f"timed out after {timeout:.0f} s: {' '.join(argv)}") from error
        if check and done.returncode != 0:
            raise EngineError(
                f"exit {done.returncode}: {' '.join(argv)}\n"
                f"--- stdout ---\n{done.stdout[-4000:]}\n--- stderr ---\n{done.stderr[-4000:]}"
            )
        return done

    def __call__(
        self, *args: str, timeout: float = 60, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        return self.run_cmd([self.name, *args], timeout=timeout, check=check)

    # -- images -----------------------------------------------------------------------------
    def build(
        self,
        target: str,
        tag: str,
        build_args: dict[str, str],
        volumes: Sequence[str] = (),
        timeout: float = 1200,
    ) -> None:
        argv = ["build", "--target", target, "-t", tag]
        if self.name == "podman":
            # podman's default (OCI) image format has no HEALTHCHECK; Docker's keeps it.
            argv += ["--format", "docker"]
            for volume in volumes:  # `docker build` has no build-time mounts
                argv += ["-v", volume]
        for key, value in build_args.items():
            argv += ["--build-arg", f"{key}={value}"]
        self(*argv, ".", timeout=timeout)

    def image_size_mb(self, tag: str) -> float:
        size = self("image", "inspect", "--format", "{{.Size}}", tag).stdout.strip()
        return int(size) / 1e6

    # -- containers -------------------------------------------------------------------------
    def inspect(self, container: str) -> dict:
        return json.loads(self("inspect", container).stdout)[0]

    def exec(self, container: str, *argv: str, timeout: float = 30) -> str:
        return self("exec", container, *argv, timeout=timeout).stdout

    def remove(self, container: str) -> None:
        self("rm", "-f", "-t", "2", container, timeout=60, check=False)

    @contextmanager
    def container(self, image: str, *options: str, args: Sequence[str] = ()) -> Iterator[str]:
        """A detached container, removed afterwards whatever happens."""
        container = self("run", "-d", *options, image, *args, timeout=120).stdout.strip()
        container = container.splitlines()[-1]
        try:
            yield container
        finally:
            self.remove(container)

    @contextmanager
    def serving(self, image: str, *options: str) -> Iterator[tuple[str, str]]:
        """A serve container on a free loopback port: (container id, base URL), once live."""
        with self.container(image, "-p", "127.0.0.1::8000", *options) as container:
            mapped = self("port", container, "8000/tcp").stdout.split()[0]
            url = "http://" + mapped.replace("0.0.0.0", "127.0.0.1")
            wait_for_http(
                url + "/v2/health/live", what=container[:12], engine=self, container=container
            )
            yield container, url

    def run_to_completion(
        self, image: str, *options: str, args: Sequence[str] = (), timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        """`run` in the foreground, under a name so that a timeout still removes it."""
        name = f"ctest-{os.getpid()}-{time.monotonic_ns()}"
        try:
            return self("run", "--name", name, *options, image, *args, timeout=timeout)
        finally:
            self.remove(name)

    def logs(self, container: str) -> str:
        done = self("logs", container, check=False)
        return (done.stdout + done.stderr)[-3000:]

    # -- compose ----------------------------------------------------------------------------
    def compose_argv(self) -> list[str]:
        return ["podman-compose"] if self.name == "podman" else ["docker", "compose"]


def wait_for_http(
    url: str,
    timeout: float = 60,
    what: str = "",
    engine: Engine | None = None,
    container: str | None = None,
) -> httpx.Response:
    """Poll until the URL answers 200 (podman ignores compose healthchecks, so we ask)."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            response = httpx.get(url, timeout=2, trust_env=False)
            if response.status_code == 200:
                return response
            last = f"{response.status_code} {response.text[:200]}"
        except httpx.TransportError as error:
            last = repr(error)
        time.sleep(0.25)
    logs = engine.logs(container) if engine and container else ""
    raise AssertionError(f"{what or url} not answering 200 after {timeout:.0f} s: {last}\n{logs}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def docker_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        done = subprocess.run(["docker", "info"], capture_output=True, timeout=20)
    except subprocess.TimeoutExpired:
        return False
    return done.returncode == 0


def provision() -> Engine | None:
    """Docker if its engine answers; else podman from setup.sh; None when there is neither."""
    if docker_answers():
        return Engine("docker")
    if not SETUP_SCRIPT.exists():
        return None
    # netavark (podman's network stack) calls iptables, which setup.sh's
    # --no-install-recommends leaves out on a machine that lacks it: every container with a
    # network then fails with "netavark: No such file or directory". Until setup.sh installs
    # it, the suite does, the same way setup.sh installs everything else.
    if shutil.which("iptables") is None and shutil.which("apt-get") is not None:
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "iptables"],
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
            capture_output=True,
            timeout=600,
            check=True,
        )
    ctr = os.environ.get("CTR", "/tmp/ctr")
    env = {
        **os.environ,
        "CTR": ctr,
        "PATH": f"{ctr}/bin:{os.environ.get('PATH', '')}",
        "CONTAINERS_CONF": f"{ctr}/containers.conf",
    }
    engine = Engine("podman", env)
    engine.run_cmd(["bash", str(SETUP_SCRIPT)], timeout=1200)
    return engine


def local_torch_wheel(engine: Engine) -> tuple[Path, str] | None:
    """(folder, version) of a CPU torch wheel for PYTHON_IMAGE in pip's find-links, if any.

    Machines without internet keep one there (CONTAINERS.md); podman mounts it into the build
    so the train image takes torch from disk instead of the network.
    """
    if engine.name != "podman":
        return None
    listed = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True, timeout=60
    ).stdout
    for folder in re.findall(r"find-links='([^']+)'", listed):
        path = Path(folder.removeprefix("file://"))
        for wheel in sorted(path.glob("torch-*+cpu-cp311-cp311-*linux*_x86_64.whl")):
            return path, wheel.name.split("-")[1].removesuffix("+cpu")
    return None
