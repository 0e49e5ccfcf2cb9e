"""`train ... --promote`: record in the model repository that a version is promoted, in the
model's `control.json` (docs/model-repository.md), which every server reading the repository
applies at its next rescan: the version serves, and newer ones must pass the model's
promotion gate against it. Written by the contract's own `control_state.record`, as the
service's control API writes it; torch-free, like publishing.
"""

from __future__ import annotations

from pathlib import Path

from modelrepo import control_state
from modelrepo.publish import PublishError, check_name


def promote(models_dir: Path, name: str, version: int) -> str:
    """Promote `version` of `name`; the action in words. PublishError if it cannot be."""
    folder = models_dir / check_name(name)
    try:
        _, said = control_state.record(folder, "promote", version)
    except LookupError as error:
        raise PublishError(f"{name} has no version {version} to promote") from error
    except OSError as error:
        raise PublishError(f"cannot record the promotion in {folder}: {error}") from error
    return f"{said} (training --promote)"
