"""What is being served: model name -> versions -> a ready model, or the reason it is not.

The whole state is an immutable snapshot that a reload replaces in one assignment, so a
request sees either the old state or the new, never a mix. A request resolves its model
once and holds the `LoadedModel`, so requests in flight finish on the version they started
on; a version dropped from the snapshot is freed when its last request lets go of it.

Reading the disk never holds anything a request or a health check waits for: every
filesystem call goes through `Disk` (a thread of its own, a deadline). A refresh scans the
repository, then brings each model in line in a task of its own, which publishes that model's
new state as soon as it is done: a model whose versions load slowly (each has until the load
deadline) holds up no other model, and a rescan passes over a model still busy. A model seen
for the first time is published at once as loading. Control actions (load, unload, promote,
pin, canary) are written to the model's control.json, read back like any other change, so
every worker and every replica sharing the repository applies them at its next rescan. Each
model is brought in line with its folder by reconcile.py; what becomes of a version when the
disk changes is versions.py's.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType

from modelrepo import control_state
from modelrepo.control_state import Action
from service.errors import Forbidden, InvalidInput, NotFound, NotReady
from service.metrics.prometheus import RouteRow
from service.repository.disk import Disk, DiskTimeout
from service.repository.folders import (
    ModelFolder,
    check_name,
    check_version,
    is_model,
    list_model_names,
    scan_model,
)
from service.runtime.load_slots import LoadSlots
from service.runtime.loaded_model import LoadedModel
from service.serving import decisions, versions
from service.serving.model_status import ModelStatus, VersionStatus
from service.serving.reconcile import Loader, Reconciler, unloaded
from service.serving.versions import ReloadTimings

__all__ = ["Loader", "ModelStatus", "ReadyRows", "Registry", "ReloadTimings", "VersionStatus"]

log = logging.getLogger("logitserve.registry")

# Every version as (model, version, provider in use or None when not ready), after each change.
ReadyRows = list[tuple[str, int, str | None, int]]
_draw = random.random


class Registry:
    """The models of the repository at `root`: `loader` makes each version ready,
    `on_publish` and `on_routes` hear of every new snapshot (the readiness and routing
    metrics)."""

    def __init__(
        self,
        root: Path,
        loader: Loader,
        on_publish: Callable[[ReadyRows], None] | None = None,
        *,
        on_routes: Callable[[list[RouteRow]], None] | None = None,
        strict_readiness: bool = False,
        disk: Disk | None = None,
        timings: ReloadTimings | None = None,
        clock: Callable[[], float] = time.monotonic,
        slots: LoadSlots | None = None,
    ) -> None:
        self._root = Path(root)
        self._on_publish = on_publish
        self._on_routes = on_routes
        self._strict = strict_readiness
        self._disk = disk or Disk(timeout_s=10.0)
        self._timings = timings or ReloadTimings()
        self._clock = clock
        slots = slots or LoadSlots(slots=2, timeout_s=60.0)
        self._reconciler = Reconciler(loader, self._disk, self._timings, clock, slots)
        self._snapshot: Mapping[str, ModelStatus] = MappingProxyType({})
        self._scanning = asyncio.Lock()  # one scan at a time; nothing else waits on it
        self._tasks: dict[str, asyncio.Task[None]] = {}  # each model's latest reconcile
        self._applied: dict[str, int] = {}  # unloads applied here, by model, so far
        self.repository_error: str | None = "the model repository has not been read yet"
        self.scanned = False

    # -- reading ---------------------------------------------------------------------------

    @property
    def models(self) -> Mapping[str, ModelStatus]:
        return self._snapshot

    @property
    def ready(self) -> bool:
        """Triton's readiness: by default, once the repository has been read, while some model
        serves (one whose versions never loaded, or unloaded on purpose, is reported by its
        own readiness and metrics, and keeps no replica out of service); strict: every model
        serves and the repository can be read."""
        models = self._snapshot
        if not self.scanned or not models:
            return False
        if self._strict:
            return self.repository_error is None and all(m.ready for m in models.values())
        return any(m.ready for m in models.values())

    @property
    def strict_readiness(self) -> bool:
        return self._strict

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
            canary = status.canary
            if canary is not None and _draw() < canary[1]:
                return canary[0]
            return serving
        number = check_version(version)
        entry = status.versions.get(number)
        if entry is None:
            raise NotFound(f"model '{name}' has no version {number}")
        if entry.model is None:
            raise NotReady(f"model '{name}' version {number} is not ready: {entry.reason}")
        return entry.model

    # -- changing ----------------------------------------------------------------------------

    async def refresh(
        self, only: str | None = None, explicit: bool = False, wait_s: float | None = None
    ) -> None:
        """Bring the snapshot in line with the disk: load what is new, changed or due for a
        retry (`explicit`: every failed version at once), keep what vanished for its grace.
        Returns once every model found is in line, or after `wait_s` (the models still
        loading then publish their state when they are done)."""
        tasks = await self._rescan(only, explicit, wait=True)
        if tasks:
            await asyncio.wait(tasks, timeout=wait_s)
        if only is None:
            self.scanned = True

    async def _rescan(
        self, only: str | None, explicit: bool, wait: bool
    ) -> list[asyncio.Task[None]]:
        """Scan, then start a task per model found that brings it in line. A model whose
        previous task still runs gets one that follows it (`wait`), or none: the next rescan
        will see it."""
        async with self._scanning:
            now = self._clock()
            if only is None:
                found, error = await self._scan()
                self.repository_error = error
            else:
                folder = await self._scan_model(check_name(only))
                if folder.gone:
                    raise NotFound(f"no model '{only}' in the model repository")
                found, error = {only: folder}, None
            current, changed = dict(self._snapshot), False
            if only is None and error is None:
                for name in set(current) - set(found):
                    if self._busy(name):
                        continue  # its task publishes; the next rescan sees it gone
                    kept = versions.vanished_model(current[name], now, self._timings)
                    if kept is None:
                        log.info("model removed", extra={"model": name})
                        del current[name]
                        self._tasks.pop(name, None)
                    elif kept is current[name]:
                        continue
                    else:
                        current[name] = kept
                    changed = True
            tasks = []
            for name, folder in found.items():
                busy = self._tasks.get(name) if self._busy(name) else None
                if busy is not None and not wait:
                    continue
                previous = current.get(name)
                if previous is None:
                    current[name], changed = versions.loading(folder), True
                task = asyncio.create_task(self._reconcile(folder, previous, explicit, busy))
                self._tasks[name] = task
                tasks.append(task)
            if changed:
                self._publish(current)
            return tasks

    def _busy(self, name: str) -> bool:
        task = self._tasks.get(name)
        return task is not None and not task.done()

    async def _reconcile(
        self,
        folder: ModelFolder,
        previous: ModelStatus | None,
        explicit: bool,
        after: asyncio.Task[None] | None,
    ) -> None:
        """One model brought in line with its folder, and published."""
        name = folder.name
        if after is not None:
            await asyncio.wait({after})
            previous = self._snapshot.get(name)
        applied = self._applied.get(name)
        try:
            status = await self._reconciler.model(folder, previous, self._clock(), explicit)
        except Exception:  # one model's surprise must not stop the others, nor later rescans
            log.exception("model not brought in line with its folder", extra={"model": name})
            if previous is not None:
                return  # what it served serves on
            status = ModelStatus(name, error="an internal error while loading it (see the log)")
        unchanged = status == self._snapshot.get(name)  # each publication touches every row
        if self._applied.get(name) == applied and not unchanged:  # else an unload came first
            self._publish({**self._snapshot, name: status})

    async def control(
        self, name: str, action: Action, version: int | None = None, weight: float | None = None
    ) -> str:
        """Record a control action in the model's control.json, where every worker and replica
        reads it, and apply it here at once; the action in words. Forbidden when the
        repository cannot be written (a load then only retries here)."""
        folder = self._root / check_name(name)
        try:
            state, said = await self._disk.call(
                str(folder), control_state.record, folder, action, version, weight
            )
        except LookupError as exc:
            raise NotFound(str(exc)) from None
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None
        except OSError as exc:
            why = exc.strerror or str(exc)
            if action != "load":
                raise Forbidden(
                    f"cannot record the {action} in the model repository ({why}): model "
                    "control needs a repository the service may write"
                ) from None
            log.warning("load not recorded", extra={"model": name, "reason": why})
            said = "load (here only: not recorded)"
        log.info("model control", extra={"model": name, "action": said})
        previous = self._snapshot.get(name)
        if action == "unload" and previous is not None:  # at once, without reading the disk
            self._applied[name] = self._applied.get(name, 0) + 1
            status = unloaded(
                name, previous.versions, previous.ignored, previous.config, state, previous.unloaded
            )
            self._publish({**self._snapshot, name: status})
        else:
            await self.refresh(only=name, explicit=action == "load")
        return said

    async def unload(self, name: str) -> ModelStatus:
        await self.control(name, "unload")
        return self.status(name)

    async def load(self, name: str) -> ModelStatus:
        await self.control(name, "load")
        return self.status(name)

    async def watch(self, interval: float) -> None:
        """Rescan every `interval` seconds, forever (cancelled at shutdown); a model still
        busy from an earlier rescan is passed over."""
        while True:
            try:
                await self._rescan(None, False, wait=False)
                self.scanned = True
            except Exception:  # a bad scan must not stop hot reload for good
                log.exception("model repository scan failed")
            if interval <= 0:
                return
            await asyncio.sleep(interval)

    async def stop(self) -> None:
        """Cancel what is still being brought in line (at shutdown)."""
        tasks = [task for task in self._tasks.values() if not task.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        self._tasks.clear()

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

    def _publish(self, models: dict[str, ModelStatus]) -> None:
        old, self._snapshot = self._snapshot, MappingProxyType(models)
        decisions.log_changes(old, models)
        if self._on_routes is not None:
            self._on_routes(decisions.route_rows(models))
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
