"""Per-epoch checkpoints that ``--resume`` continues from.

A checkpoint holds only tensors and plain Python values, so it loads with
``torch.load(weights_only=True)``: a checkpoint file cannot run code when read. It is written
to a temporary file and renamed over the last one, so a crash mid-save leaves the previous
epoch's checkpoint intact.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import torch

from training.errors import CheckpointError

FORMAT = 1
FILENAME = "last.pt"


def checkpoint_path(checkpoint_dir: Path, task_name: str) -> Path:
    return checkpoint_dir / task_name / FILENAME


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    torch.save({"format": FORMAT, **state}, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: Path) -> dict[str, Any] | None:
    """The saved state, ``None`` if there is no checkpoint, ``CheckpointError`` if unreadable."""
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError) as error:
        raise CheckpointError(f"cannot read checkpoint {path}: {error}") from error
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a format-{FORMAT} training checkpoint")
    return state


def check_compatible(path: Path, state: dict[str, Any], expected: dict[str, Any]) -> None:
    """Refuse to resume a checkpoint made for another model, configuration or seed."""
    different = [key for key, value in expected.items() if state.get(key) != value]
    if different:
        details = "; ".join(
            f"{k}: checkpoint {state.get(k)!r}, now {expected[k]!r}" for k in different
        )
        raise CheckpointError(
            f"checkpoint {path} does not match this run ({details}); "
            "run with the same settings or delete the checkpoint"
        )
