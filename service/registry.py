"""What is being served: model name -> versions -> a ready model, or the reason it is not.

The whole state is an immutable snapshot that a reload replaces in one assignment, so a
request sees either the old state or the new, never a mix. A request resolves its model
once and holds the `LoadedModel`, so requests in flight finish on the version they started
on; a version dropped from the snapshot is freed when its last request lets go of it.

Reading the disk never holds anything a request, an unload or a health check waits for:
every filesystem call goes through `Disk` (a thread of its own, a deadline), refreshes only
wait for each other, and the new snapshot is put together and published without a pause,
so whatever changed in between (an unload) is seen. What becomes of each version when the
disk changes is decided in versions.py.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, Protocol

from service import versions
from service.disk import Disk, DiskTimeout
from service.errors import NotFound, NotReady
from service.model import LoadedModel
from service.repository import (
    LoadError,
    ModelFolder,
    VersionFolder,
    check_name,
    check_version,
    is_model,
    list_model_names,
    scan_model,
)
from service.versions import ModelStatus, ReloadTimings, VersionStatus

__all__ = ["Loader", "ModelStatus", "ReadyRows", "Registry", "ReloadTimings", "VersionStatus"]

log = logging.getLogger("logitserve.registry")

# Every version as (model, version, provider in use or None when not ready), after each change.
ReadyRows = list[tuple[str, int, str | None, int]]


class Loader(Protocol):
    """Makes a ready model of a version folder in two steps (model.ModelLoader): `read`, the
    disk's part, and `build`, the CPU's; each raises LoadError with the reason."""

    def read(self, folder: VersionFolder) -> Any: ...

    def build(self, folder: VersionFolder, files: Any) -> LoadedModel: ...


class Registry:
    """The models of the repository at `root`: `loader` makes each version ready,
    `on_publish` hears of every new snapshot (the readiness metric)."""

    def __init__(
        self,
        root: Path,
        loader: Loader,
        on_publish: Callable[[ReadyRows], None] | None = None,
        *,
        disk: Disk | None = None,
        timings: ReloadTimings | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._root = Path(root)
        self._loader = loader
        self._on_publish = on_publish
        self._disk = disk or Disk(timeout_s=10.0)
        self._timings = timings or ReloadTimings()
        self._clock = clock
        self._snapshot: Mapping[str, ModelStatus] = MappingProxyType({})
        self._refreshing = asyncio.Lock()  # one refresh at a time; nothing else waits on it
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
        """Bring the snapshot in line with the disk: load what is new, changed or due for a
        retry (`explicit`: every failed version at once), keep what vanished for its grace."""
        async with self._refreshing:
            now = self._clock()
            if only is None:
                found, error = await self._scan()
                self.repository_error = error
            else:
                folder = await self._scan_model(check_name(only))
                if folder.gone:
                    raise NotFound(f"no model '{only}' in the model repository")
                found, error = {only: folder}, None
            updates: dict[str, ModelStatus] = {}
            for name, folder in found.items():
                previous = self._snapshot.get(name)
                if previous is not None and previous.unloaded and not explicit:
                    continue
                updates[name] = await self._reconcile(folder, previous, now, explicit)
            # From here to the publication nothing awaits: an unload made while the disk was
            # read is in this snapshot, and wins over what this refresh found.
            current = dict(self._snapshot)
            for name, status in updates.items():
                latest = current.get(name)
                if latest is None or not latest.unloaded or explicit:
                    current[name] = status
            if only is None and error is None:
                for name in set(current) - set(found):
                    kept = versions.vanished_model(current[name], now, self._timings)
                    if kept is None:
                        log.info("model removed", extra={"model": name})
                        del current[name]
                    else:
                        current[name] = kept
            self._publish(current)
            self.scanned = True

    async def unload(self, name: str) -> ModelStatus:
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

    async def _scan(self) -> tuple[dict[str, ModelFolder], str | None]:
        """Every model folder, each read on its own (one that hangs holds up no other), or
        the reason the repository itself cannot be read."""
        try:
            names = await self._disk.call(str(self._root), list_model_names, self._root)
        except OSError as exc:
            return {}, f"cannot read the model repository: {_why(exc)}"
        folders = await asyncio.gather(*(self._scan_model(name) for name in names))
        return {f.name: f for f in folders if is_model(f)}, None

    async def _scan_model(self, name: str) -> ModelFolder:
        try:
            return await self._disk.call(str(self._root / name), scan_model, self._root, name)
        except DiskTimeout as exc:
            return ModelFolder(name, error=f"cannot read the model folder: {_why(exc)}")

    async def _reconcile(
        self, folder: ModelFolder, previous: ModelStatus | None, now: float, explicit: bool
    ) -> ModelStatus:
        if folder.error is not None and not folder.gone:
            return versions.unreadable(previous, folder.name, folder.error)
        old = previous.versions if previous is not None and not previous.unloaded else {}
        statuses: dict[int, VersionStatus] = {}
        for number, found in folder.versions.items():
            kept = old.get(number)
            same = versions.unchanged(kept, found, now, explicit)
            if same is not None:
                statuses[number] = same
                continue
            model, reason = await self._load(found, kept)
            statuses[number] = versions.after_load(kept, found, model, reason, now, self._timings)
        for number, reason in folder.broken.items():
            statuses[number] = versions.broken(old.get(number), number, reason)
        for number, kept in old.items():
            if number not in statuses:
                survivor = versions.vanished_version(kept, now, self._timings)
                if survivor is not None:
                    statuses[number] = survivor
        return ModelStatus(folder.name, statuses, folder.ignored, folder.error)

    async def _load(
        self, folder: VersionFolder, kept: VersionStatus | None
    ) -> tuple[LoadedModel | None, str | None]:
        started = time.perf_counter()
        try:
            files = await self._disk.call(str(folder.path), self._loader.read, folder)
            loaded = await asyncio.to_thread(self._loader.build, folder, files)
        except DiskTimeout as exc:
            reason = f"cannot read its files: {_why(exc)}"
        except LoadError as exc:
            reason = str(exc)
        else:
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
            return loaded, None
        retried = kept is not None and reason in (kept.reason or "")
        (log.info if retried else log.warning)(
            "model version not loaded",
            extra={"model": folder.name, "version": folder.version, "reason": reason},
        )
        return None, reason

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


def _why(exc: OSError) -> str:
    return str(exc) if isinstance(exc, DiskTimeout) else exc.strerror or "error"
