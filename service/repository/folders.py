"""Reading the model repository on disk: names, version folders, manifests, sha256.

Nothing here trusts the disk: names are validated, links must stay inside the repository,
files are size-limited, and the bytes hashed are the bytes handed to ONNX Runtime, so a
file swapped between the check and the load cannot slip through.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from modelrepo import manifest as manifest_file
from modelrepo.control_state import MAX_BYTES as CONTROL_MAX_BYTES
from modelrepo.manifest import Manifest
from modelrepo.names import (
    CONTROL_FILE,
    MANIFEST_FILE,
    MODEL_FILE,
    NAME_RULE,
    SERVING_FILE,
    VERSION_RULE,
    is_model_name,
    is_version,
)
from modelrepo.serving_config import MAX_BYTES as CONFIG_MAX_BYTES
from service.errors import InvalidInput
from service.repository.disk import NotARegularFile, TooLarge, read_regular_file

# Beside the versions: people's serving config, and what the control API decided.
SMALL_FILES = {SERVING_FILE: CONFIG_MAX_BYTES, CONTROL_FILE: CONTROL_MAX_BYTES}


def check_name(text: str) -> str:
    """A model name from a client or the disk, or InvalidInput."""
    if not is_model_name(text):
        raise InvalidInput(f"invalid model name: {NAME_RULE}")
    return text


def check_version(text: str) -> int:
    """A version from a client or the disk, or InvalidInput."""
    if not is_version(text):
        raise InvalidInput(f"invalid model version: {VERSION_RULE}")
    return int(text)


class LoadError(Exception):
    """Why a version folder cannot be served; the message is shown in metadata."""


@dataclass(frozen=True)
class VersionFolder:
    name: str
    version: int
    path: Path
    # Changes when either file is replaced or rewritten; a new fingerprint means reload.
    fingerprint: tuple[int, ...]


@dataclass
class ModelFolder:
    name: str
    versions: dict[int, VersionFolder] = field(default_factory=dict)
    # Version folders that exist but cannot be read, and stray entries, with reasons.
    broken: dict[int, str] = field(default_factory=dict)
    ignored: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    gone: bool = False  # deleted (or never there)
    # serving.json and control.json as read (None: no such file), or why they could not be.
    config: bytes | None = None
    control: bytes | None = None
    unreadable: dict[str, str] = field(default_factory=dict)


def inside(path: Path, root: Path) -> bool:
    """Whether path, links followed (even a dangling one), stays inside root."""
    try:
        return path.resolve().is_relative_to(root)
    except (OSError, RuntimeError):  # a link loop
        return False


def _fingerprint(folder: Path) -> tuple[int, ...]:
    parts: list[int] = []
    for name in (MODEL_FILE, MANIFEST_FILE):
        try:
            st = (folder / name).stat()
            parts += [st.st_ino, st.st_size, st.st_mtime_ns]
        except OSError:
            parts += [-1, -1, -1]
    return tuple(parts)


def scan_model(root: Path, name: str) -> ModelFolder:
    """One model's folder: its version folders, and what is wrong with the rest."""
    root = root.resolve()
    found = ModelFolder(name=name)
    model_dir = root / name
    if not inside(model_dir, root):
        found.error = "links outside the model repository"
        return found
    try:
        entries = sorted(os.scandir(model_dir), key=lambda e: e.name)
    except FileNotFoundError:
        found.error, found.gone = "there is no such model folder", True
        return found
    except OSError as exc:
        found.error = f"cannot read the model folder: {exc.strerror or 'error'}"
        return found
    for entry in entries:
        if entry.name.startswith("."):
            continue  # .tmp-* folders are versions being published
        if entry.name in SMALL_FILES:
            _read_small(found, model_dir / entry.name, root)
            continue
        if not is_version(entry.name):
            if entry.is_dir():
                found.ignored[entry.name[:80]] = (
                    "not a version: versions are positive integers without leading zeros"
                )
            continue
        version = int(entry.name)
        path = model_dir / entry.name
        if not inside(path, root):
            found.broken[version] = "links outside the model repository"
        elif not path.is_dir():
            found.broken[version] = "not a folder"
        elif not all(
            inside(path / f, root) for f in (MODEL_FILE, MANIFEST_FILE) if (path / f).is_symlink()
        ):
            found.broken[version] = "a file links outside the model repository"
        else:
            found.versions[version] = VersionFolder(name, version, path, _fingerprint(path))
    return found


def _read_small(found: ModelFolder, path: Path, root: Path) -> None:
    """serving.json or control.json into `found`, or why it cannot be read."""
    limit = SMALL_FILES[path.name]
    try:
        if not inside(path, root):
            raise LoadError("links outside the model repository")
        data = read_regular_file(path, limit)
    except FileNotFoundError:
        return  # removed since the listing: as if it never was
    except (LoadError, NotARegularFile) as exc:
        found.unreadable[path.name] = f"cannot read {path.name}: {exc}"
        return
    except TooLarge:
        found.unreadable[path.name] = f"{path.name} is larger than {limit} bytes"
        return
    except OSError as exc:
        found.unreadable[path.name] = f"cannot read {path.name}: {exc.strerror or 'error'}"
        return
    if path.name == SERVING_FILE:
        found.config = data
    else:
        found.control = data


def list_model_names(root: Path) -> list[str]:
    """The names of the folders under root that could be models; OSError if root cannot be
    read."""
    with os.scandir(root) as entries:
        return sorted(
            e.name
            for e in entries
            if not e.name.startswith(".") and e.is_dir() and is_model_name(e.name)
        )


def is_model(folder: ModelFolder) -> bool:
    """A folder with nothing in it is no model (yet), nor one deleted since it was listed. A
    model being deleted passes through those states, as does one whose first version is being
    copied in: "unknown model" (404), not "not ready" (503)."""
    return not folder.gone and bool(
        folder.versions or folder.broken or folder.ignored or folder.error
    )


def scan(root: Path) -> tuple[dict[str, ModelFolder], str | None]:
    """Every model folder under root, or the reason the repository itself cannot be read."""
    try:
        names = list_model_names(root)
    except OSError as exc:
        return {}, f"cannot read the model repository: {exc.strerror or 'error'}"
    folders = (scan_model(root, name) for name in names)
    return {folder.name: folder for folder in folders if is_model(folder)}, None


def _read_limited(path: Path, limit: int, what: str) -> bytes:
    try:
        return read_regular_file(path, limit)
    except FileNotFoundError:
        raise LoadError(f"{what} is missing") from None
    except NotARegularFile as exc:
        raise LoadError(f"cannot read {what}: {exc}") from None
    except TooLarge:
        raise LoadError(f"{what} is larger than the limit of {limit} bytes") from None
    except OSError as exc:
        raise LoadError(f"cannot read {what}: {exc.strerror or 'error'}") from None


def read_manifest(folder: VersionFolder) -> Manifest:
    """The version's manifest alone (for the promotion gate), or LoadError."""
    raw = _read_limited(folder.path / MANIFEST_FILE, manifest_file.MAX_BYTES, MANIFEST_FILE)
    return _manifest(folder, raw)


def read_version(folder: VersionFolder, max_model_bytes: int) -> tuple[Manifest, bytes]:
    """The manifest and the model bytes, checked against each other; or LoadError."""
    raw = _read_limited(folder.path / MANIFEST_FILE, manifest_file.MAX_BYTES, MANIFEST_FILE)
    manifest = _manifest(folder, raw)
    model = _read_limited(folder.path / MODEL_FILE, max_model_bytes, MODEL_FILE)
    if hashlib.sha256(model).hexdigest() != manifest.model_sha256:
        raise LoadError(f"{MODEL_FILE} does not match the sha256 in {MANIFEST_FILE}")
    return manifest, model


def _manifest(folder: VersionFolder, raw: bytes) -> Manifest:
    try:
        manifest = manifest_file.parse(raw)
    except ValueError as exc:
        raise LoadError(str(exc)) from None
    if manifest.name != folder.name or manifest.version != folder.version:
        raise LoadError(
            f"{MANIFEST_FILE} says {manifest.name}/{manifest.version}, "
            f"but the folder is {folder.name}/{folder.version}"
        )
    return manifest
