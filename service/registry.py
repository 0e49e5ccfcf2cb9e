"""What is being served: model name -> versions -> a ready model, or the reason it is not.

The whole state is an immutable snapshot that a reload replaces in one assignment, so a
request sees either the old state or the new, never a mix. A request resolves its model
once and holds the `LoadedModel`, so requests in flight finish on the version they started
on; a version dropped from the snapshot is freed when its last request lets go of it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from service.errors import NotFound, NotReady
from service.model import LoadedModel
from service.repository import (
    LoadError,
    ModelFolder,
    VersionFolder,
    check_name,
    check_version,
    scan,
    scan_model,
)

log = logging.getLogger("logitserve.registry")

State = Literal["ready", "failed", "unloaded"]
# Makes a ready model of a version folder, or raises LoadError (model.ModelLoader).
Load = Callable[[VersionFolder], LoadedModel]
# Every version as (model, version, provider in use or None when not ready), after each change.
ReadyRows = list[tuple[str, int, str | None, int]]


@dataclass(frozen=True)
class VersionStatus:
    version: int
    state: State
    reason: str | None = None
    model: LoadedModel | None = None
    fingerprint: tuple[int, ...] | None = None
    # Files on disk that replaced a serving version's and failed to load: not retried.
    refused: tuple[int, ...] | None = None


@dataclass(frozen=True)
class ModelStatus:
    name: str
    versions: Mapping[int, VersionStatus] = field(default_factory=dict)
    ignored: Mapping[str, str] = field(default_factory=dict)
    error: str | None = None
    unloaded: bool = False  # explicitly, through the repository API

    @property
    def serving(self) -> LoadedModel | None:
        """The highest ready version: what a request without a version gets."""
        for version in sorted(self.versions, reverse=True):
            if self.versions[version].model is not None:
                return self.versions[version].model
        return None

    @property
    def ready(self) -> bool:
        return self.serving is not None

    @property
    def reason(self) -> str | None:
        """Why the model is not ready, or None when it is."""
        if self.ready:
            return None
        if self.unloaded:
            return "unloaded through the repository API"
        if self.error:
            return self.error
        failures = [
            f"version {v}: {s.reason}" for v, s in sorted(self.versions.items()) if s.reason
        ]
        return "; ".join(failures) if failures else "no version folders"


class Registry:
    """The models of the repository at `root`: `load` makes each version ready,
    `on_publish` hears of every new snapshot (the readiness metric)."""

    def __init__(
        self, root: Path, load: Load, on_publish: Callable[[ReadyRows], None] | None = None
    ) -> None:
        self._root = Path(root)
        self._load_version = load
        self._on_publish = on_publish
        self._snapshot: Mapping[str, ModelStatus] = MappingProxyType({})
        self._lock = asyncio.Lock()
        self.repository_error: str | None = "the model repository has not been read yet"
        self.scanned = False

    # -- reading ---------------------------------------------------------------------------

    @property
    def models(self) -> Mapping[str, ModelStatus]:
        return self._snapshot

    @property
    def ready(self) -> bool:
        models = self._snapshot
        return (
            self.scanned
            and self.repository_error is None
            and bool(models)
            and all(m.ready for m in models.values())
        )

    def status(self, name: str) -> ModelStatus:
        status = self._snapshot.get(check_name(name))
        if status is None:
            raise NotFound(f"unknown model '{name}'")
        return status

    def resolve(self, name: str, version: str | None = None) -> LoadedModel:
        """The model a request addresses, or NotFound / NotReady / InvalidInput."""
        status = self.status(name)
        if version is None:
            serving = status.serving
            if serving is None:
                raise NotReady(f"model '{name}' is not ready: {status.reason}")
            return serving
        number = check_version(version)
        entry = status.versions.get(number)
        if entry is None:
            raise NotFound(f"model '{name}' has no version {number}")
        if entry.model is None:
            raise NotReady(f"model '{name}' version {number} is not ready: {entry.reason}")
        return entry.model

    # -- changing ----------------------------------------------------------------------------

    async def refresh(self, only: str | None = None, explicit: bool = False) -> None:
        """Bring the snapshot in line with the disk: load what is new or changed, drop the rest."""
        async with self._lock:
            if only is None:
                folders, error = await asyncio.to_thread(scan, self._root)
                self.repository_error = error
            else:
                folder = await asyncio.to_thread(scan_model, self._root.resolve(), only)
                if folder.error and not (self._root / only).exists():
                    raise NotFound(f"no model '{only}' in the model repository")
                folders, error = {only: folder}, None
            current = dict(self._snapshot)
            for name, folder in folders.items():
                previous = current.get(name)
                if previous is not None and previous.unloaded and not explicit:
                    continue
                current[name] = await self._reconcile(folder, previous)
            if only is None and error is None:
                for gone in set(current) - set(folders):
                    log.info("model removed", extra={"model": gone})
                    del current[gone]
            self._publish(current)
            self.scanned = True

    async def unload(self, name: str) -> ModelStatus:
        async with self._lock:
            status = self.status(name)
            unloaded = ModelStatus(
                name=name,
                versions={
                    v: VersionStatus(v, "unloaded", "unloaded through the repository API")
                    for v in status.versions
                },
                ignored=status.ignored,
                unloaded=True,
            )
            self._publish({**self._snapshot, name: unloaded})
            log.info("model unloaded", extra={"model": name})
            return unloaded

    async def watch(self, interval: float) -> None:
        """Rescan every `interval` seconds, forever (cancelled at shutdown)."""
        while True:
            try:
                await self.refresh()
            except Exception:  # a bad scan must not stop hot reload for good
                log.exception("model repository scan failed")
            if interval <= 0:
                return
            await asyncio.sleep(interval)

    # -- internals ---------------------------------------------------------------------------

    async def _reconcile(self, folder: ModelFolder, previous: ModelStatus | None) -> ModelStatus:
        versions: dict[int, VersionStatus] = {}
        old = previous.versions if previous is not None and not previous.unloaded else {}
        for number, vf in folder.versions.items():
            kept = old.get(number)
            if kept is not None and vf.fingerprint == kept.fingerprint:
                whole_again = kept.model is not None and kept.reason is not None
                versions[number] = replace(kept, reason=None, refused=None) if whole_again else kept
                continue
            if kept is not None and vf.fingerprint == kept.refused:
                versions[number] = kept
                continue
            loaded = await asyncio.to_thread(self._load, vf)
            versions[number] = _keep_serving(kept, loaded.reason, vf.fingerprint) or loaded
        for number, reason in folder.broken.items():
            failed = VersionStatus(number, "failed", reason)
            versions[number] = _keep_serving(old.get(number), reason, None) or failed
        return ModelStatus(folder.name, versions, folder.ignored, folder.error)

    def _load(self, folder: VersionFolder) -> VersionStatus:
        started = time.perf_counter()
        try:
            loaded = self._load_version(folder)
        except LoadError as exc:
            log.warning(
                "model version not loaded",
                extra={"model": folder.name, "version": folder.version, "reason": str(exc)},
            )
            return VersionStatus(folder.version, "failed", str(exc), fingerprint=folder.fingerprint)
        log.info(
            "model version ready",
            extra={
                "model": folder.name,
                "version": folder.version,
                "provider": loaded.session.provider,
                "fallback": loaded.session.fallback,
                "load_ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )
        return VersionStatus(folder.version, "ready", None, loaded, folder.fingerprint)

    def _publish(self, models: dict[str, ModelStatus]) -> None:
        self._snapshot = MappingProxyType(models)
        if self._on_publish is not None:
            self._on_publish(
                [
                    (
                        name,
                        number,
                        v.model.session.provider if v.model else None,
                        v.model.session.cpu_below_rows if v.model else 0,
                    )
                    for name, status in models.items()
                    for number, v in status.versions.items()
                ]
            )


def _keep_serving(
    kept: VersionStatus | None, reason: str | None, refused: tuple[int, ...] | None
) -> VersionStatus | None:
    """A serving version whose files changed into something that does not load (half
    deleted, half copied, overwritten) goes on serving the copy in memory: like a new version
    that fails to load, a broken one never evicts what serves. Its folder's removal does."""
    if kept is None or kept.model is None or reason is None:
        return None
    note = f"serving the copy loaded earlier; on disk: {reason}"
    if kept.reason != note:  # once per change, not once per scan
        log.warning(
            "the files of a serving version changed and do not load; the loaded copy serves on",
            extra={"model": kept.model.name, "version": kept.version, "reason": reason},
        )
    return replace(kept, reason=note, refused=refused)
