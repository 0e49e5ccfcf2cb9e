"""`train ... --promote`: record in the model repository that a version is promoted, in the
model's `control.json` (docs/model-repository.md), which every server reading the repository
applies at its next rescan: the version serves, and newer ones must pass the model's
promotion gate against it. Torch-free, like publishing.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from training.errors import PublishError
from training.publish import check_name

CONTROL_FILE = "control.json"


def promote(models_dir: Path, name: str, version: int) -> str:
    """Promote `version` of `name`; the action in words. PublishError if it cannot be."""
    folder = models_dir / check_name(name)
    if not (folder / str(version)).is_dir():
        raise PublishError(f"{name} has no version {version} to promote")
    state: dict[str, Any] = {"format": 1}
    path = folder / CONTROL_FILE
    if path.is_file():
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
            state = loaded if isinstance(loaded, dict) else state
        except (OSError, ValueError):
            pass  # a broken one is replaced whole
    said = f"promote version {version} (training --promote)"
    state.update(
        promoted=version,
        serial=int(state.get("serial") or 0) + 1,
        changed_at=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        last_action=said,
    )
    state.pop("canary", None)
    _write_atomically(path, json.dumps(state, indent=2) + "\n")
    return said


def _write_atomically(path: Path, text: str) -> None:
    try:
        fd, tmp = tempfile.mkstemp(prefix=".control-", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as error:
        raise PublishError(f"cannot record the promotion in {path}: {error}") from error
