"""The GPU check's training half: mnist-cnn on CUDA against the CPU, and torchrun on the GPU.

Each run is the real command line (`python -m training train ...`) in a temporary models
folder, with the interpreter that has torch; the figures come from the manifests it writes.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.gpu_http import ROOT, CheckFailed

MODEL = "mnist-cnn"


def train(
    python: str, device: str, epochs: int, folder: Path, processes: int = 1
) -> dict[str, Any]:
    """Train and publish MODEL; the manifest's figures and the wall time of the command."""
    launcher = [python, "-m", "torch.distributed.run", "--standalone"]
    launcher += [f"--nproc_per_node={processes}"]
    argv = [*(launcher if processes > 1 else [python]), "-m", "training", "train", MODEL]
    argv += ["--device", device, "--epochs", str(epochs), "--quiet"]
    argv += ["--models-dir", str(folder / "models"), "--checkpoint-dir", str(folder / "ck")]
    started = time.monotonic()
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=900)
    took = time.monotonic() - started
    label = f"{processes} x {device}"
    if done.returncode != 0:
        raise CheckFailed(
            f"training ({label}) failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
        )
    manifest = json.loads((folder / "models" / MODEL / "1" / "manifest.json").read_text())
    t = manifest["training"]
    result = {
        "run": label,
        "command_s": round(took, 1),
        "device": t["device"],
        "world_size": t["world_size"],
        "seconds_per_epoch": t["seconds_per_epoch"],
        "train_seconds_per_epoch": t["train_seconds_per_epoch"],
        "metrics": manifest["metrics"],
        "parity_max_abs_diff": manifest["parity"]["max_abs_diff"],
    }
    print(
        f"training {MODEL} ({label}, {epochs} epochs): {t['seconds_per_epoch']:.2f} s per epoch "
        f"({t['train_seconds_per_epoch']:.2f} s training steps), {manifest['metrics']}, "
        f"ONNX parity {manifest['parity']['max_abs_diff']:.1e}, command {took:.0f} s"
    )
    if t["device"] != device:
        raise CheckFailed(f"training asked for {device} ran on {t['device']}")
    return result


def train_checks(
    python: str, epochs: int, serve_check: Callable[[Path], str]
) -> list[dict[str, Any]]:
    """CUDA against CPU at the same epochs, then two processes on the GPU, served on CUDA."""
    results = []
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as tmp:
        for device in ("cuda", "cpu"):
            results.append(train(python, device, epochs, Path(tmp) / device))
        ddp = Path(tmp) / "torchrun"
        result = train(python, "cuda", epochs, ddp, processes=2)
        if result["world_size"] != 2:
            raise CheckFailed(f"torchrun trained with world size {result['world_size']}")
        result["served"] = serve_check(ddp / "models")
        print("served:", result["served"])
        results.append(result)
    return results
