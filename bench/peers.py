"""The issue's peers, measured in the same run as logitserve: KServe, Seldon MLServer and
Mosec, each in a virtual environment of its own (their pins conflict with ours and with each
other's), each serving the same ONNX model at one ONNX Runtime thread with the same softmax
(`bench/peer_apps/`).

`python -m bench.peers DIR` creates the environments; `python -m bench --peers DIR` runs them.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

APPS = Path(__file__).resolve().parent / "peer_apps"


@dataclass(frozen=True)
class Peer:
    label: str
    requirement: str  # KServe and MLServer: the versions of the reference figures
    app: str  # a script in bench/peer_apps, run by the peer's own Python
    ready_path: str


PEERS = {
    "kserve": Peer("KServe", "kserve==0.21.0", "kserve_app.py", "/v2/health/ready"),
    "mlserver": Peer("MLServer", "mlserver==1.7.1", "mlserver_app.py", "/v2/health/ready"),
    "mosec": Peer("Mosec", "mosec==0.9.8", "mosec_app.py", "/"),
}


def python(folder: Path, name: str) -> Path:
    return folder / name / "bin" / "python"


def argv(folder: Path, name: str) -> list[str]:
    """The command that starts a peer (the runner appends --port)."""
    interpreter = python(folder, name)
    if not interpreter.exists():
        raise SystemExit(
            f"no {PEERS[name].label} environment at {interpreter.parent.parent}: "
            f"create the peers' environments with `python -m bench.peers {folder}`"
        )
    return [str(interpreter), str(APPS / PEERS[name].app)]


def install(folder: Path) -> None:
    """One virtual environment per peer: its framework and our ONNX Runtime version."""
    import onnxruntime

    runtime = f"onnxruntime=={onnxruntime.__version__}"  # the CPU build: peers run on the CPU
    for name, peer in PEERS.items():
        target = folder / name
        if not python(folder, name).exists():
            subprocess.run([sys.executable, "-m", "venv", str(target)], check=True)
        pip = [str(python(folder, name)), "-m", "pip", "install", "-q"]
        subprocess.run([*pip, peer.requirement, runtime], check=True)
        print(f"{peer.label}: {target}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.peers", description=__doc__)
    parser.add_argument("folder", type=Path, help="where the environments go, e.g. .peers")
    install(parser.parse_args().folder)
