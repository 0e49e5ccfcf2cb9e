"""Publish a version into the model repository atomically (docs/model-repository.md): the one
way both halves write a version (training after a run, the service's `logitserve publish`).

A version is staged completely in ``models/<name>/.tmp-<random>/``, fsynced, then renamed to
``models/<name>/<version>/`` with one ``os.rename``: a reader sees nothing or everything. The
version is one more than the highest existing one; when another publisher takes that number
first, our rename fails (the target exists and is not empty) and we retry with the next.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelrepo.names import (
    MANIFEST_FILE,
    MODEL_FILE,
    NAME_RULE,
    STAGING_PREFIX,
    is_model_name,
    is_version,
)

MAX_ATTEMPTS = 100


class PublishError(Exception):
    """The models folder cannot be written, a name is invalid, or no version number is free;
    the message says which, for people."""


@dataclass(frozen=True)
class Published:
    name: str
    version: int
    path: Path


def check_name(name: str) -> str:
    if not is_model_name(name):
        raise PublishError(f"invalid model name {name!r}: {NAME_RULE}")
    return name


def ensure_writable(models_dir: Path) -> None:
    """Fail before training, not after, when the models folder cannot be written."""
    try:
        models_dir.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=models_dir).close()  # created and removed: writable
    except OSError as error:
        reason = error.strerror or str(error)
        raise PublishError(f"models folder {models_dir} is not writable: {reason}") from error


def published_versions(models_dir: Path, name: str) -> list[int]:
    """Versions of ``name``, ascending; names that are not versions (``.tmp-*``) are ignored."""
    folder = models_dir / check_name(name)
    if not folder.is_dir():
        return []
    return sorted(
        int(entry.name) for entry in folder.iterdir() if is_version(entry.name) and entry.is_dir()
    )


def next_version(models_dir: Path, name: str) -> int:
    versions = published_versions(models_dir, name)
    return versions[-1] + 1 if versions else 1


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextmanager
def staging_folder(models_dir: Path, name: str) -> Iterator[Path]:
    """A fresh staging folder (``.tmp-*``) beside the versions; removed unless it was
    published."""
    parent = models_dir / check_name(name)
    try:
        parent.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=parent))
        # mkdtemp makes it private (0700); a published version must be readable by the service.
        stage.chmod(0o755)
    except OSError as error:
        raise PublishError(f"cannot create a staging folder in {parent}: {error}") from error
    try:
        yield stage
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def commit(stage: Path, name: str, manifest: dict[str, Any]) -> Published:
    """Rename the staged folder into the next free version, writing its final manifest.

    ``manifest`` gets ``name``, ``version`` and ``model_sha256`` filled in here, because only
    here are they known for sure.
    """
    model_dir = stage.parent
    models_dir = model_dir.parent
    model_sha256 = sha256_file(stage / MODEL_FILE)
    for _ in range(MAX_ATTEMPTS):
        version = next_version(models_dir, name)
        final = {**manifest, "name": name, "version": version, "model_sha256": model_sha256}
        (stage / MANIFEST_FILE).write_text(json.dumps(final, indent=2) + "\n", encoding="utf-8")
        _fsync_tree(stage)
        target = model_dir / str(version)
        try:
            os.rename(stage, target)
        except OSError as error:
            # Someone published this number first (a non-empty folder cannot be replaced).
            if error.errno in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR):
                continue
            raise PublishError(f"cannot publish {name} version {version}: {error}") from error
        _fsync(model_dir)
        return Published(name=name, version=version, path=target)
    raise PublishError(f"no free version number for {name} after {MAX_ATTEMPTS} attempts")


def _fsync_tree(folder: Path) -> None:
    for entry in folder.iterdir():
        if entry.is_file():
            _fsync(entry)
    _fsync(folder)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
