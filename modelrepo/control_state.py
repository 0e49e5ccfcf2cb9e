"""What the control API and CLI decide about a model, kept in the repository as
`models/<name>/control.json`: unloaded or not, the version promoted by hand, a pinned
version, a canary. Every worker and every replica reading the repository applies the same
state at its next rescan, and a restart keeps it.

The file is written whole into a temporary file beside it and renamed over it, so a reader
sees the old state or the new one. Each change bumps `serial`, which tells a worker that an
explicit load (retry every failed version now) was asked for since it last looked.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from modelrepo import documents
from modelrepo.names import CONTROL_FILE

MAX_BYTES = 64 * 1024


class Canary(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    version: int = Field(ge=1)
    weight: float = Field(gt=0, lt=100)  # percent of requests without a version


class ControlState(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    format: Literal[1] = 1
    unloaded: bool = False
    promoted: int | None = Field(None, ge=1)
    pinned: int | None = Field(None, ge=1)
    canary: Canary | None = None
    loads: int = Field(0, ge=0)  # explicit loads so far: a new one retries failed versions
    serial: int = Field(0, ge=0)
    changed_at: str | None = None
    last_action: str | None = None


Action = Literal["load", "unload", "promote", "pin", "unpin", "canary"]


def parse(raw: bytes) -> ControlState:
    """The state in raw, or ValueError naming the problem."""
    return documents.parse(ControlState, raw, CONTROL_FILE)


def apply(
    state: ControlState, action: Action, version: int | None = None, weight: float | None = None
) -> tuple[ControlState, str]:
    """The state after an action, and the action in words (for the log and the reply)."""
    changes: dict[str, object]
    if action == "load":
        changes, said = {"unloaded": False, "loads": state.loads + 1}, "load"
    elif action == "unload":
        changes, said = {"unloaded": True}, "unload"
    elif action == "unpin":
        changes, said = {"pinned": None}, "unpin"
    elif version is None:
        raise ValueError(f"{action} needs a version")
    elif action == "promote":
        changes, said = {"promoted": version, "canary": None}, f"promote version {version}"
        if state.pinned is not None and state.pinned != version:
            said += f" (version {state.pinned} stays pinned until unpinned)"
    elif action == "pin":
        changes, said = {"pinned": version}, f"pin version {version}"
    elif weight is None or not 0 <= weight <= 100:
        raise ValueError("a canary needs a weight from 0 to 100 (percent)")
    elif weight == 0:
        changes, said = {"canary": None}, f"end the canary of version {version}"
    elif weight == 100:
        changes = {"promoted": version, "canary": None}
        said = f"promote version {version} (canary weight 100)"
    else:
        changes = {"canary": Canary(version=version, weight=weight)}
        said = f"send {weight:g}% of requests without a version to version {version}"
    now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    changes |= {"serial": state.serial + 1, "changed_at": now, "last_action": said}
    return state.model_copy(update=changes), said


def write(model_folder: Path, state: ControlState) -> None:
    """Replace the model's control.json atomically; OSError when it cannot be written."""
    data = (state.model_dump_json(indent=2, exclude_none=True) + "\n").encode()
    documents.write(model_folder / CONTROL_FILE, data)


def record(
    model_folder: Path,
    action: Action,
    version: int | None = None,
    weight: float | None = None,
) -> tuple[ControlState, str]:
    """Read the model's control state, apply the action, write it back: the new state and
    the action in words. LookupError: no such model or version; ValueError: a bad argument;
    OSError: the file cannot be written."""
    if not model_folder.is_dir():
        raise LookupError(f"no model '{model_folder.name}' in the model repository")
    if version is not None and not (model_folder / str(version)).is_dir():
        raise LookupError(f"model '{model_folder.name}' has no version {version}")
    current = ControlState()
    path = model_folder / CONTROL_FILE
    if path.is_file():
        with path.open("rb") as f:
            raw = f.read(MAX_BYTES + 1)
        with contextlib.suppress(ValueError):  # a broken one (or one too large) is replaced
            current = parse(raw if len(raw) <= MAX_BYTES else b"")
    state, said = apply(current, action, version, weight)
    write(model_folder, state)
    return state, said
